# Competing structures of tests/data/mini_pool.yaml fitted by lavaan 0.6.14.
# data.csv: allyscale.simulate(PopulationModel.from_pool(load_pool("tests/data/mini_pool.yaml"),
#           structure = "bifactor"), 400, seed = 7)[pool.item_ids]; models.json: pool.all_model_syntax().
library(lavaan); library(jsonlite)
d <- read.csv("data.csv")
models <- fromJSON("models.json")
out <- list(lavaan = as.character(packageVersion("lavaan")), fits = list())
fits <- list()
for (name in names(models)) {
  for (est in c("ML", "MLR")) {
    f <- cfa(models[[name]], data = d, estimator = est)
    fits[[paste(name, est)]] <- f
    keys <- c("npar", "chisq", "df", "cfi", "tli", "rmsea", "srmr", "aic", "bic")
    if (est == "MLR") keys <- c(keys, "chisq.scaled", "chisq.scaling.factor", "cfi.robust", "rmsea.robust")
    out$fits[[paste0(name, ".", est)]] <- c(list(converged = lavInspect(f, "converged")), as.list(fitMeasures(f, keys)))
  }
}
# nested pair tested by lavTestLRT: one_factor (df larger) against correlated
for (est in c("ML", "MLR")) {
  lrt <- lavTestLRT(fits[[paste("one_factor", est)]], fits[[paste("correlated", est)]])
  out[[paste0("lrt_one_vs_correlated.", est)]] <- list(chisq_diff = lrt[["Chisq diff"]][2], df_diff = lrt[["Df diff"]][2],
                                                      pvalue = lrt[["Pr(>Chisq)"]][2])
}
write_json(out, "compare.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
