# lavaan timing for benchmarks/bench_engine.py: WLSMV fit of a data file with a model file.
# Usage: Rscript bench_engine.R data.csv model.lav [missing]
suppressPackageStartupMessages(library(lavaan))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
model <- paste(readLines(args[2]), collapse = "\n")
missing <- if (length(args) >= 3) args[3] else "listwise"
t <- system.time(fit <- cfa(model, data = d, ordered = names(d), estimator = "WLSMV", missing = missing))[["elapsed"]]
cat(sprintf("lavaan %s seconds %.3f chisq.scaled %.10g\n", as.character(packageVersion("lavaan")), t,
            fitMeasures(fit, "chisq.scaled")))
