# lavaan's model-syntax rules that allyscale's lavaanify follows (lavaan 0.6.14):
# auto.fix.single, labels shared by fixed and free rows, duplicate elements, self-measurement,
# cycles. Fits on HolzingerSwineford1939 (tests/reference/hs/data.csv) where lavaan accepts the model;
# the error text where it refuses. Run from this folder: Rscript make.R
library(lavaan); library(jsonlite)
cat("lavaan", as.character(packageVersion("lavaan")), "\n")
d <- read.csv("../hs/data.csv")
models <- list(
  single_indicator = "visual =~ x1 + x2 + x3\ntextual =~ x4",
  single_indicator_std_lv = "visual =~ x1 + x2 + x3\ntextual =~ x4",
  single_indicator_shared = "visual =~ x1 + x2 + x3\ntextual =~ x3",
  single_indicator_user_var = "visual =~ x1 + x2 + x3\ntextual =~ x4\nx4 ~~ 0.3*x4",
  fixed_free_label = "visual =~ a*x1 + a*x2 + x3 + x4",
  free_free_label = "visual =~ x1 + b*x2 + x3\ntextual =~ x4 + b*x5 + x6",
  duplicate_variance = "visual =~ x1 + x2 + x3\nx1 ~~ NA*x1\nx1 ~~ 0.5*x1",
  duplicate_covariance = "visual =~ x1 + x2 + x3\nx1 ~~ x2\nx2 ~~ x1",
  duplicate_loading = "visual =~ x1 + x2 + x3\nvisual =~ x2",
  self_measured = "visual =~ visual + x2 + x3",
  cycle_loadings = "f1 =~ x1 + x2 + x3 + f2\nf2 =~ x4 + x5 + x6 + f1",
  cycle_regressions = "f1 =~ x1 + x2 + x3\nf2 =~ x4 + x5 + x6\nf1 ~ f2\nf2 ~ f1",
  value_and_label = "visual =~ x1 + 0.5*a*x2 + x3"
)
out <- list(lavaan = as.character(packageVersion("lavaan")))
# a factor with one ordinal indicator (x1-x4 cut at their quartiles; WLSMV, delta parameterization)
dq <- d
for (v in c("x1", "x2", "x3", "x4")) {
  dq[[v]] <- cut(d[[v]], quantile(d[[v]], c(0, .25, .5, .75, 1)), include.lowest = TRUE, labels = FALSE)
}
write.csv(dq[, c("x1", "x2", "x3", "x4")], "ordinal.csv", row.names = FALSE)
ordinal <- list(
  single_ordinal = "visual =~ x1 + x2 + x3\ntextual =~ x4",
  single_ordinal_fixed = "visual =~ x1 + x2 + x3\ntextual =~ 1*x4\ntextual ~~ 1*textual"
)
for (name in names(ordinal)) {
  m <- ordinal[[name]]
  res <- tryCatch({
    fit <- cfa(m, data = dq, ordered = c("x1", "x2", "x3", "x4"))
    pe <- parameterEstimates(fit)
    list(model = m, accepted = TRUE, converged = lavInspect(fit, "converged"),
         estimates = pe[, c("lhs", "op", "rhs", "est", "se")],
         fit = as.list(fitMeasures(fit, c("npar", "chisq", "df"))))
  }, error = function(e) list(model = m, accepted = FALSE, error = conditionMessage(e)),
     warning = function(w) list(model = m, accepted = NA, warning = conditionMessage(w)))
  out[[name]] <- res
}
for (name in names(models)) {
  m <- models[[name]]
  res <- tryCatch({
    fit <- cfa(m, data = d, std.lv = (name == "single_indicator_std_lv"))
    pe <- parameterEstimates(fit)
    pt <- parTable(fit)
    list(model = m, accepted = TRUE, converged = lavInspect(fit, "converged"),
         partable = pt[, c("lhs", "op", "rhs", "free", "ustart", "label")],
         estimates = pe[, c("lhs", "op", "rhs", "est", "se")],
         fit = as.list(fitMeasures(fit, c("npar", "chisq", "df"))))
  }, error = function(e) list(model = m, accepted = FALSE, error = conditionMessage(e)),
     warning = function(w) list(model = m, accepted = NA, warning = conditionMessage(w)))
  out[[name]] <- res
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"), "reference.json")
