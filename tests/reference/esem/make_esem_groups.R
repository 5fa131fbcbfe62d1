# ESEM references in several groups: lavaan 0.6.14 efa() block fitted per school (configural, and with group.equal).
# R 4.2.2, lavaan 0.6.14, jsonlite.  Run from this folder: Rscript make_esem_groups.R
library(lavaan)
library(jsonlite)
hs <- read.csv("../hs/data.csv")
esem3 <- 'efa("e1")*f1 + efa("e1")*f2 + efa("e1")*f3 =~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9'
out <- list(lavaan = as.character(packageVersion("lavaan")))
fit <- cfa(esem3, data = hs, group = "school", estimator = "ML")
pe <- parameterEstimates(fit)
ss <- standardizedSolution(fit)
out$hs_geomin_ml_groups <- list(model = esem3, group = "school", group_labels = lavInspect(fit, "group.label"),
  est = data.frame(lhs = pe$lhs, op = pe$op, rhs = pe$rhs, group = pe$group, est = pe$est, se = pe$se),
  std = data.frame(lhs = ss$lhs, op = ss$op, rhs = ss$rhs, group = ss$group, est_std = ss$est.std),
  fit = as.list(fitMeasures(fit)))
# group.equal on the block: the unrotated loadings equal (lavaan's == rows, the echelon zeros included),
# the later group's factor variances and covariances free; each group rotated separately, the
# bordered SEs with the first group's rotation conditions and the equality constraints
for (ge in list(c("loadings"), c("loadings", "intercepts"), c("loadings", "intercepts", "residuals"))) {
  for (est in c("ML", "MLR")) {
    if (est == "MLR" && length(ge) > 1) next
    fit <- cfa(esem3, data = hs, group = "school", estimator = est, group.equal = ge)
    pe <- parameterEstimates(fit)
    ss <- standardizedSolution(fit)
    key <- paste0("hs_geomin_", tolower(est), "_", paste(ge, collapse = "_"))
    out[[key]] <- list(model = esem3, group = "school", group_equal = ge, estimator = est,
      est = data.frame(lhs = pe$lhs, op = pe$op, rhs = pe$rhs, group = pe$group, est = pe$est, se = pe$se),
      std = data.frame(lhs = ss$lhs, op = ss$op, rhs = ss$rhs, group = ss$group, est_std = ss$est.std),
      fit = as.list(fitMeasures(fit)))
  }
}
writeLines(toJSON(out, digits = NA, na = "null", auto_unbox = TRUE), "reference_groups.json")
