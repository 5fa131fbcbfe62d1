# lavaan 0.6.14's WLSMV difference test: lavTestLRT(fit0, fit1) with its default for the
# scaled-shifted test (method = "satorra.2000", A.method = "delta"), on ordered sim60 items.
#   Rscript make_wlsmv_diff.R   (reads ../sim60/data.csv, writes reference.json)
suppressPackageStartupMessages({library(lavaan); library(jsonlite)})
d <- read.csv("../sim60/data.csv")
two <- "trust =~ i01 + i02 + i03 + i04 + i05\n action =~ i16 + i17 + i18 + i19 + i20"
pairs <- list(
  equal_loadings = list(
    m0 = "trust =~ i01 + a*i02 + a*i03 + a*i04 + i05\n action =~ i16 + i17 + i18 + i19 + i20", m1 = two),
  orthogonal = list(m0 = paste0(two, "\n trust ~~ 0*action"), m1 = two),
  one_vs_two = list(m0 = "g =~ i01 + i02 + i03 + i04 + i05 + i16 + i17 + i18 + i19 + i20", m1 = two)
)
out <- list(lavaan = as.character(packageVersion("lavaan")))
for (name in names(pairs)) {
  f0 <- cfa(pairs[[name]]$m0, data = d, ordered = TRUE, estimator = "WLSMV")
  f1 <- cfa(pairs[[name]]$m1, data = d, ordered = TRUE, estimator = "WLSMV")
  lrt <- lavTestLRT(f1, f0)
  raw <- lavaan:::lav_test_diff_Satorra2000(f1, f0, H1 = TRUE, A.method = "delta", scaled.shifted = TRUE)
  out[[name]] <- list(m0 = pairs[[name]]$m0, m1 = pairs[[name]]$m1,
                      chisq = lrt[["Chisq"]], df = lrt[["Df"]], chisq_diff = lrt[["Chisq diff"]][2],
                      df_diff = lrt[["Df diff"]][2], pvalue = lrt[["Pr(>Chisq)"]][2],
                      a = raw$a, b = raw$b, trace_ugamma = raw$trace.UGamma, trace_ugamma2 = raw$trace.UGamma2,
                      method = attr(lrt, "heading"))
}
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "reference.json")
