# FIML reference: HolzingerSwineford1939 items x1-x9 with values deleted at random (MCAR, 30 per item),
# fitted by lavaan 0.6.14 cfa(..., missing = "ml") (estimator ML).
library(lavaan); library(jsonlite)
set.seed(20261122)
d <- HolzingerSwineford1939[, paste0("x", 1:9)]
for (j in 1:9) d[sample(nrow(d), 30), j] <- NA
model <- "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
t0 <- proc.time()[["elapsed"]]
fit <- cfa(model, data = d, missing = "ml")
secs <- proc.time()[["elapsed"]] - t0
fm <- fitMeasures(fit, c("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper",
                         "srmr", "logl", "unrestricted.logl", "aic", "bic", "npar", "ntotal",
                         "baseline.chisq", "baseline.df"))
pe <- parameterEstimates(fit)
ss <- standardizedSolution(fit)
write.csv(d, "data.csv", row.names = FALSE, na = "")
writeLines(model, "model.lav")
out <- list(lavaan = as.character(packageVersion("lavaan")),
            call = 'cfa(model, data = d, missing = "ml")',
            fit = as.list(fm),
            est = pe[, c("lhs", "op", "rhs", "est", "se")],
            std = ss[, c("lhs", "op", "rhs", "est.std")],
            seconds = secs)
write_json(out, "reference.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
# MLR with FIML: sandwich SEs, Yuan-Bentler (Mplus) scaled test
fr <- cfa(model, data = d, missing = "ml", estimator = "MLR")
out$mlr <- list(call = 'cfa(model, data = d, missing = "ml", estimator = "MLR")',
                fit = as.list(fitMeasures(fr, c("chisq", "df", "chisq.scaled", "chisq.scaling.factor",
                                                "baseline.chisq.scaling.factor", "cfi.scaled", "tli.scaled",
                                                "rmsea.scaled", "cfi.robust", "tli.robust", "rmsea.robust", "srmr"))),
                est = parameterEstimates(fr)[, c("lhs", "op", "rhs", "est", "se")])
write_json(out, "reference.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
