# lavaan timing for benchmarks/bench_engine.py: WLSMV fit of a data file with a model file.
# Usage: Rscript bench_engine.R data.csv model.lav [missing] [estimator]
suppressPackageStartupMessages(library(lavaan))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
model <- paste(readLines(args[2]), collapse = "\n")
missing <- if (length(args) >= 3) args[3] else "listwise"
estimator <- if (length(args) >= 4) args[4] else "WLSMV"
ordered <- if (estimator == "WLSMV") names(d) else NULL
st <- system.time(fit <- cfa(model, data = d, ordered = ordered, estimator = estimator, missing = missing))
stat <- if (estimator == "WLSMV") "chisq.scaled" else "chisq"
cat(sprintf("lavaan %s seconds %.3f chisq.scaled %.10g cpu %.3f\n", as.character(packageVersion("lavaan")),
            st[["elapsed"]], fitMeasures(fit, stat), st[["user.self"]] + st[["sys.self"]]))
# the BLAS R runs with changes lavaan's time several-fold (Debian's reference BLAS against OpenBLAS)
blas <- tryCatch(sessionInfo()$BLAS, error = function(e) "")
if (is.null(blas) || !nzchar(blas)) blas <- tryCatch(extSoftVersion()[["BLAS"]], error = function(e) "")
cat(sprintf("blas %s\n", if (nzchar(blas)) blas else "unknown"))
