# lavaan 0.6.14: multi-group WLSMV (delta parameterization) on ordered sim60 items, two groups
# of unequal size; configural, metric (loadings) and scalar (loadings + thresholds, Wu &
# Estabrook 2016: scale factors and latent means free in the second group) and strict (adds
# "residuals", which the delta parameterization leaves without effect).
# "wu_estabrook": the Wu & Estabrook (2016) sequence from semTools 0.5.6's measEq.syntax
# (ID.cat = "Wu.Estabrook.2016", ID.fac = "std.lv"): thresholds, then loadings, then intercepts.
# "ml_std_lv": ML with std.lv = TRUE and equal loadings (later groups' factor variances free).
#   Rscript make_wlsmv_groups.R   (reads ../sim60/data.csv, writes reference.json)
suppressPackageStartupMessages({library(lavaan); library(semTools); library(jsonlite)})
d <- read.csv("../sim60/data.csv")
d$grp <- ifelse(seq_len(nrow(d)) <= 300, "a", "b")
models <- list(one = "f =~ i01 + i02 + i03 + i04 + i05",
               two = "trust =~ i01 + i02 + i03 + i04\n action =~ i16 + i17 + i18 + i19")
levels <- list(configural = "", metric = "loadings", scalar = c("loadings", "thresholds"),
               strict = c("loadings", "thresholds", "residuals"))
fm <- c("fmin", "chisq", "df", "chisq.scaled", "df.scaled", "pvalue.scaled", "cfi.scaled", "tli.scaled", "rmsea.scaled",
        "cfi.robust", "tli.robust", "rmsea.robust", "rmsea.ci.lower.robust", "rmsea.ci.upper.robust",
        "rmsea.pvalue.robust", "srmr", "baseline.chisq", "baseline.chisq.scaled")
out <- list(lavaan = as.character(packageVersion("lavaan")))
for (mn in names(models)) {
  fits <- list()
  for (lv in names(levels)) {
    fit <- cfa(models[[mn]], data = d, ordered = TRUE, estimator = "WLSMV", group = "grp",
               group.equal = levels[[lv]])
    fits[[lv]] <- fit
    pe <- parameterEstimates(fit, standardized = TRUE)
    out[[mn]][[lv]] <- list(fit = as.list(fitMeasures(fit, fm)),
                            est = pe[, c("lhs", "op", "rhs", "group", "est", "se", "std.all")],
                            catml = lavaan:::lav_fit_catml_dwls(fit))
  }
  out[[mn]]$model <- models[[mn]]
  lrt <- lavTestLRT(fits$configural, fits$metric, fits$scalar)
  out[[mn]]$order <- names(levels)
  out[[mn]]$lrt <- list(chisq_diff = lrt[["Chisq diff"]], df_diff = lrt[["Df diff"]], pvalue = lrt[["Pr(>Chisq)"]])
}
we_levels <- list(configural = "", thresholds = "thresholds", metric = c("thresholds", "loadings"),
                  scalar = c("thresholds", "loadings", "intercepts"))
for (mn in names(models)) {
  fits <- list()
  items <- lavNames(models[[mn]], "ov")
  for (lv in names(we_levels)) {
    syn <- measEq.syntax(models[[mn]], data = d, ordered = items, parameterization = "delta", ID.fac = "std.lv",
                         ID.cat = "Wu.Estabrook.2016", group = "grp", group.equal = we_levels[[lv]],
                         return.fit = FALSE)
    fit <- cfa(as.character(syn), data = d, ordered = items, group = "grp", estimator = "WLSMV")
    fits[[lv]] <- fit
    pe <- parameterEstimates(fit, standardized = TRUE)
    out$wu_estabrook[[mn]][[lv]] <- list(fit = as.list(fitMeasures(fit, fm)),
                                         est = pe[, c("lhs", "op", "rhs", "group", "est", "se", "std.all")])
  }
  lrt <- lavTestLRT(fits$configural, fits$thresholds, fits$metric, fits$scalar)
  out$wu_estabrook[[mn]]$order <- names(we_levels)
  out$wu_estabrook[[mn]]$lrt <- list(chisq_diff = lrt[["Chisq diff"]], df_diff = lrt[["Df diff"]],
                                     pvalue = lrt[["Pr(>Chisq)"]])
}
fit <- cfa(models$two, data = d, group = "grp", std.lv = TRUE, group.equal = "loadings")
out$ml_std_lv <- list(model = models$two, fit = as.list(fitMeasures(fit, c("chisq", "df", "cfi", "rmsea"))),
                      est = parameterEstimates(fit)[, c("lhs", "op", "rhs", "group", "est", "se")])
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE, dataframe = "columns"), "reference.json")
