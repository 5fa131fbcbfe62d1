# lavaan 0.6.14's categorical robust fit measures (catML; Savalei, 2021) on small WLSMV fits of
# the sim60 data (ordered items), with the pieces lav_fit_catml_dwls() computes them from.
#   Rscript make_catml.R   (reads ../sim60/data.csv, writes reference.json)
suppressPackageStartupMessages({library(lavaan); library(jsonlite)})
d <- read.csv("../sim60/data.csv")
models <- list(
  two = "trust =~ i01 + i02 + i03 + i04 + i05 + i06\n action =~ i16 + i17 + i18 + i19 + i20 + i21",
  one = "g =~ i01 + i02 + i03 + i04 + i05 + i16 + i17 + i18 + i19 + i20",
  three = paste("trust =~ i01 + i02 + i03 + i04", "action =~ i16 + i17 + i18 + i19",
                "awareness =~ i28 + i29 + i30 + i31 + i16", sep = "\n")
)
fm <- c("chisq", "df", "chisq.scaled", "cfi.scaled", "tli.scaled", "rmsea.scaled", "cfi.robust", "tli.robust",
        "rmsea.robust", "rmsea.ci.lower.robust", "rmsea.ci.upper.robust", "rmsea.pvalue.robust",
        "baseline.chisq", "baseline.df")
out <- list(lavaan = as.character(packageVersion("lavaan")))
for (name in names(models)) {
  fit <- cfa(models[[name]], data = d, ordered = TRUE, estimator = "WLSMV")
  pieces <- lavaan:::lav_fit_catml_dwls(fit)
  catml <- lavaan:::lav_object_catml(fit)
  out[[name]] <- list(model = models[[name]], n = nobs(fit), fit = as.list(fitMeasures(fit, fm)),
                      catml = pieces, V = unclass(lavTech(catml, "wls.v")[[1]]),
                      sigma = unclass(lavTech(fit, "implied")[[1]]$cov))
}
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE, matrix = "rowmajor"), "reference.json")
