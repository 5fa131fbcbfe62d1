# lavaan timing for benchmarks/bench_esem.py: a WLSMV ESEM (efa() block, lavaan's default geomin rotation,
# bordered standard errors) of a data file with a model file; prints one line with the times.
# Usage: Rscript bench_esem_lavaan.R data.csv model.lav
suppressPackageStartupMessages(library(lavaan))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
model <- paste(readLines(args[2]), collapse = "\n")
st <- system.time(fit <- cfa(model, data = d, ordered = names(d), estimator = "WLSMV"))
cat(sprintf("lavaan %s seconds %.3f chisq.scaled %.10g cpu %.3f\n", as.character(packageVersion("lavaan")),
            st[["elapsed"]], fitMeasures(fit, "chisq.scaled"), st[["user.self"]] + st[["sys.self"]]))
