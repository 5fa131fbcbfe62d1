# Asymptotic covariance (NACOV, "gamma"), DWLS weights and sample statistics of lavaan 0.6.14
# for a one-factor WLSMV model on the first six sim60 items.  Run from this folder: Rscript make_gamma.R
suppressMessages(library(lavaan)); library(jsonlite)
d <- read.csv("../sim60/data.csv")[, 1:6]
fit <- cfa("f =~ i01 + i02 + i03 + i04 + i05 + i06", data = d, ordered = names(d), estimator = "WLSMV")
G <- lavInspect(fit, "gamma"); W <- lavInspect(fit, "wls.v"); o <- lavInspect(fit, "wls.obs")
writeLines(toJSON(list(gamma = unname(as.matrix(G)), wlsv = diag(as.matrix(W)), obs = unname(o), chisq = fitMeasures(fit, "chisq")), digits = NA), "gamma.json")
