# References for allyscale.polychoric beyond sim60's complete data.
# R 4.2.2, lavaan 0.6.14.  Run from this folder: Rscript make_polychoric.R
library(lavaan)
library(jsonlite)
d <- read.csv("../sim60/data.csv")
# 1. pairwise-present missing values: 10 items of sim60 with about 8% of responses deleted at random
set.seed(20231)
X <- d[, sprintf("i%02d", c(1:5, 16:20))]
X[matrix(runif(nrow(X) * ncol(X)) < 0.08, nrow(X))] <- NA
write.csv(X, "missing.csv", row.names = FALSE, na = "")
fit <- lavCor(X, ordered = names(X), missing = "pairwise", output = "fit")
miss <- list(corr = unname(lavInspect(fit, "cor.ov")), th = as.list(setNames(as.numeric(lavInspect(fit, "th")), names(lavInspect(fit, "th")))))
# 2. binary items with sparse tables (an empty cell in some 2 x 2 tables)
set.seed(7)
n <- 120
z <- rnorm(n)
B <- data.frame(b1 = as.integer(z + rnorm(n, sd = 0.3) > 1.6), b2 = as.integer(z + rnorm(n, sd = 0.3) > 1.4),
                b3 = as.integer(z + rnorm(n) > 0), b4 = as.integer(rnorm(n) > -0.5))
write.csv(B, "binary.csv", row.names = FALSE)
fitb <- lavCor(B, ordered = names(B), output = "fit")
bin <- list(corr = unname(lavInspect(fitb, "cor.ov")), th = as.list(setNames(as.numeric(lavInspect(fitb, "th")), names(lavInspect(fitb, "th")))),
            tables = lapply(list(c(1, 2), c(1, 3), c(1, 4)), function(ij) matrix(as.integer(table(B[, ij[1]], B[, ij[2]])), 2)))
writeLines(toJSON(list(lavaan = as.character(packageVersion("lavaan")), missing = miss, binary = bin),
                  digits = NA, auto_unbox = TRUE), "reference.json")
