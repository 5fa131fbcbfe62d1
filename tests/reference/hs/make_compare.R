# Model comparison and modification indices on HolzingerSwineford1939 (lavaan 0.6.14).
library(lavaan); library(jsonlite)
d <- read.csv("data.csv")
three <- paste(readLines("model.lav"), collapse = "\n")
one <- "g =~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9"
out <- list(lavaan = as.character(packageVersion("lavaan")))
for (est in c("ML", "MLR")) {
  f1 <- cfa(one, data = d, estimator = est)
  f3 <- cfa(three, data = d, estimator = est)
  lrt <- lavTestLRT(f1, f3)   # MLR: method = "satorra.bentler.2001"
  out[[paste0("lrt_", tolower(est))]] <- list(
    call = sprintf('lavTestLRT(cfa(one, estimator = "%s"), cfa(three, estimator = "%s"))', est, est),
    chisq_diff = lrt[["Chisq diff"]][2], df_diff = lrt[["Df diff"]][2], pvalue = lrt[["Pr(>Chisq)"]][2])
  if (est == "MLR") {
    out$hs_mlr_fit <- as.list(fitMeasures(f3, c("chisq", "chisq.scaled", "chisq.scaling.factor", "cfi.robust",
                                                 "tli.robust", "rmsea.robust", "cfi.scaled", "rmsea.scaled")))
    pe <- parameterEstimates(f3)
    out$hs_mlr_est <- pe[, c("lhs", "op", "rhs", "est", "se")]
  }
}
mi <- modindices(cfa(three, data = d))
out$modindices <- list(call = "modindices(cfa(three, data = d))",
                       table = mi[, c("lhs", "op", "rhs", "mi", "epc", "sepc.all")])
write_json(out, "compare.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
# a residual covariance and a structural regression: std.all conventions and row order
ext <- paste(three, "x1 ~~ x9", "speed ~ visual", sep = "\n")
fe <- cfa(ext, data = d)
ss <- standardizedSolution(fe)
out$extended <- list(model = ext, call = "standardizedSolution(cfa(ext, data = d))",
                     fit = as.list(fitMeasures(fe, c("chisq", "df", "cfi", "rmsea", "srmr"))),
                     std = ss[, c("lhs", "op", "rhs", "est.std")],
                     r2 = as.list(lavInspect(fe, "r2")))
write_json(out, "compare.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
# MLR invariance by school (multi-group Yuan-Bentler scaling, Satorra-Bentler 2001 differences)
levels <- list(configural = "", metric = "loadings", scalar = c("loadings", "intercepts"),
               strict = c("loadings", "intercepts", "residuals"))
inv <- list(); prev <- NULL
for (lev in names(levels)) {
  f <- cfa(three, data = d, group = "school", group.equal = levels[[lev]], estimator = "MLR")
  row <- as.list(fitMeasures(f, c("chisq", "df", "chisq.scaled", "chisq.scaling.factor", "cfi.robust",
                                  "tli.robust", "rmsea.robust", "cfi.scaled", "srmr")))
  if (!is.null(prev)) {
    lrt <- lavTestLRT(f, prev)
    row$delta_chisq <- lrt[["Chisq diff"]][2]; row$delta_df <- lrt[["Df diff"]][2]; row$delta_pvalue <- lrt[["Pr(>Chisq)"]][2]
  }
  inv[[lev]] <- row; prev <- f
}
out$invariance_mlr <- list(call = 'cfa(three, data = d, group = "school", group.equal = ..., estimator = "MLR"); lavTestLRT(level, previous)',
                           levels = inv)
# std.lv = TRUE
fs <- cfa(three, data = d, std.lv = TRUE)
out$std_lv <- list(call = "parameterEstimates(cfa(three, data = d, std.lv = TRUE))",
                   est = parameterEstimates(fs)[, c("lhs", "op", "rhs", "est", "se")])
write_json(out, "compare.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
