# ESEM references on simulated ordinal data (lavaan 0.6.14, WLSMV, efa() blocks).
# The data are simulated here (seed 20261201): 12 five-point items, three correlated factors (r = .4)
# with primary loadings .55-.75 and cross-loadings .20 on three items, latent responses cut at
# -1.2, -0.4, 0.4, 1.2 in group "a" and shifted by 0.2 in group "b" (two groups of 350).
# Fits: one group geomin; one group target (the simulated pattern, partially specified); two groups
# configural geomin (each group's block rotated separately); two groups with equal loadings and
# thresholds (lavaan's default identification: scale factors and latent means free in group "b").
# R 4.x, lavaan 0.6.14, jsonlite.  Run from this folder: Rscript make_esem_ordinal.R
suppressPackageStartupMessages({library(lavaan); library(jsonlite)})
set.seed(20261201)
n <- 700; p <- 12; m <- 3
lam <- matrix(0, p, m)
for (k in 1:m) lam[(4 * (k - 1) + 1):(4 * k), k] <- c(.75, .65, .6, .55)
lam[4, 2] <- .2; lam[8, 3] <- .2; lam[12, 1] <- .2
phi <- matrix(.4, m, m); diag(phi) <- 1
eta <- matrix(rnorm(n * m), n, m) %*% chol(phi)
common <- eta %*% t(lam)
theta <- 1 - rowSums((lam %*% phi) * lam)
ystar <- common + matrix(rnorm(n * p), n, p) %*% diag(sqrt(theta))
grp <- rep(c("a", "b"), each = n / 2)
shift <- ifelse(grp == "b", 0.2, 0)
y <- sapply(1:p, function(j) findInterval(ystar[, j] - shift, c(-1.2, -0.4, 0.4, 1.2)) + 1)
colnames(y) <- sprintf("y%02d", 1:p)
d <- data.frame(y, grp = grp)
write.csv(d, "data.csv", row.names = FALSE)
items <- colnames(y)
esem <- paste0('efa("e")*f1 + efa("e")*f2 + efa("e")*f3 =~ ', paste(items, collapse = " + "))
target <- matrix(0, p, m)
for (k in 1:m) target[(4 * (k - 1) + 1):(4 * k), k] <- NA
one <- function(..., group = NULL, group.equal = "") {
  fit <- if (is.null(group)) cfa(esem, data = d, ordered = items, estimator = "WLSMV", ...)
         else cfa(esem, data = d, ordered = items, estimator = "WLSMV", group = group, group.equal = group.equal, ...)
  pe <- parameterEstimates(fit)
  ss <- standardizedSolution(fit)
  list(model = esem,
       est = data.frame(lhs = pe$lhs, op = pe$op, rhs = pe$rhs, group = if (is.null(pe$group)) 1L else pe$group,
                        est = pe$est, se = pe$se),
       std = data.frame(lhs = ss$lhs, op = ss$op, rhs = ss$rhs, group = if (is.null(ss$group)) 1L else ss$group,
                        est_std = ss$est.std),
       fit = as.list(fitMeasures(fit)))
}
out <- list(lavaan = as.character(packageVersion("lavaan")), target = target)
out$geomin <- one()
out$target_rotation <- one(rotation = "target", rotation.args = list(target = target))
out$groups_geomin <- one(group = "grp")
out$groups_geomin_equal <- one(group = "grp", group.equal = c("loadings", "thresholds"))
writeLines(toJSON(out, digits = NA, na = "null", auto_unbox = TRUE), "reference.json")
