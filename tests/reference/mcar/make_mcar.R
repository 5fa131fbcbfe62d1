# Reference for Little's (1988) MCAR test: ML (EM) means and covariances from lavaan's
# saturated model with missing = "ml", and the test statistic computed from them.
#   Rscript make_mcar.R   (writes data_mcar.csv, data_mar.csv and reference.json)
suppressPackageStartupMessages({library(lavaan); library(jsonlite)})
set.seed(20261122)
n <- 300; p <- 5
S <- matrix(0.4, p, p); diag(S) <- 1
X <- MASS::mvrnorm(n, mu = c(3, 2.5, 3.2, 2.8, 3), Sigma = S)
colnames(X) <- paste0("y", 1:p)
mcar <- X; mar <- X
u <- matrix(runif(n * p), n, p)
mcar[u < 0.12] <- NA
# MAR: y3..y5 missing more often when y1 is high
for (j in 3:5) mar[X[, 1] > quantile(X[, 1], 0.6) & runif(n) < 0.6, j] <- NA
little <- function(d) {
  d <- as.data.frame(d)
  fit <- sem(paste(sapply(names(d), function(v) paste(v, "~ 1")), collapse = "\n"), data = d, missing = "ml",
             meanstructure = TRUE)
  h1 <- lavInspect(fit, "sampstat.h1")
  mu <- as.numeric(h1$mean); names(mu) <- names(d); Sg <- h1$cov
  M <- is.na(d)
  key <- apply(M, 1, function(r) paste(as.integer(r), collapse = ""))
  d2 <- 0; df <- 0
  for (k in unique(key)) {
    rows <- d[key == k, , drop = FALSE]
    o <- !M[which(key == k)[1], ]
    if (!any(o)) next
    diff <- colMeans(rows[, o, drop = FALSE]) - mu[o]
    d2 <- d2 + nrow(rows) * as.numeric(t(diff) %*% solve(Sg[o, o, drop = FALSE]) %*% diff)
    df <- df + sum(o)
  }
  df <- df - ncol(d)
  list(chisq = d2, df = df, pvalue = pchisq(d2, df, lower.tail = FALSE), patterns = length(unique(key)),
       mean = mu, cov = unclass(Sg))
}
write.csv(mcar, "data_mcar.csv", row.names = FALSE, na = "")
write.csv(mar, "data_mar.csv", row.names = FALSE, na = "")
out <- list(lavaan = as.character(packageVersion("lavaan")), mcar = little(mcar), mar = little(mar))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "reference.json")
