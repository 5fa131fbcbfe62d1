# ESEM references: lavaan 0.6.14 efa() blocks (rotation after the unrotated echelon fit, bordered SEs).
# R 4.2.2, lavaan 0.6.14, jsonlite.  Run from this folder: Rscript make_esem.R
library(lavaan)
library(jsonlite)
hs <- read.csv("../hs/data.csv")
bfi <- read.csv("../bfi/data.csv")
items_bfi <- names(bfi)[1:25]
bfi <- bfi[complete.cases(bfi[, items_bfi]), items_bfi]

esem3 <- 'efa("e1")*f1 + efa("e1")*f2 + efa("e1")*f3 =~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9'
set_esem <- 'efa("e1")*f1 + efa("e1")*f2 =~ x1 + x2 + x3 + x4 + x5 + x6
f3 =~ x7 + x8 + x9'
# two EFA blocks and a CFA factor (lavaan 0.6.14 does not finish blocks sharing items: x4-x6 in two blocks ran
# for more than 5 minutes)
two_blocks <- 'efa("a")*agree + efa("a")*extra =~ A1 + A2 + A3 + A4 + A5 + E1 + E2 + E3 + E4 + E5
efa("b")*consc + efa("b")*neuro =~ C1 + C2 + C3 + C4 + C5 + N1 + N2 + N3 + N4 + N5
open =~ O1 + O2 + O3 + O4 + O5'
bifac <- 'efa("b")*g + efa("b")*s1 + efa("b")*s2 =~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9'
bfi_esem <- paste0(paste0('efa("big5")*', c("agree", "consc", "extra", "neuro", "open"), collapse = " + "),
                   " =~ ", paste(items_bfi, collapse = " + "))

target_hs <- matrix(0, 9, 3)
target_hs[1:3, 1] <- NA; target_hs[4:6, 2] <- NA; target_hs[7:9, 3] <- NA
target_full <- matrix(0, 9, 3)
target_full[1:3, 1] <- 0.6; target_full[4:6, 2] <- 0.8; target_full[7:9, 3] <- 0.6
target_bfi <- matrix(0, 25, 5)
for (k in 1:5) target_bfi[(5 * (k - 1) + 1):(5 * k), k] <- NA

out <- list(lavaan = as.character(packageVersion("lavaan")))
one <- function(model, data, ...) {
  warns <- character(0)
  message(substr(model, 1, 40), " ", paste(list(...)[sapply(list(...), is.character)], collapse = " "))
  t0 <- proc.time()[3]
  fit <- withCallingHandlers(cfa(model, data = data, ...), warning = function(w) {
    warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") })
  sec <- proc.time()[3] - t0
  pt <- parTable(fit)
  pe <- parameterEstimates(fit)
  ss <- tryCatch(standardizedSolution(fit), error = function(e) {
    warns <<- c(warns, paste("standardizedSolution:", conditionMessage(e)))
    NULL })
  if (is.null(ss)) {  # the standardized estimates without their standard errors
    ss <- parameterEstimates(fit, standardized = TRUE, se = FALSE)
    ss$est.std <- ss$std.all
    ss$se <- NA
  }
  fm <- fitMeasures(fit)
  list(model = model,
       partable = data.frame(lhs = pt$lhs, op = pt$op, rhs = pt$rhs, user = pt$user, free = pt$free,
                             ustart = pt$ustart, efa = if (is.null(pt$efa)) "" else pt$efa,
                             est = pt$est, est_unrotated = if (is.null(pt$est.unrotated)) NA else pt$est.unrotated),
       est = data.frame(lhs = pe$lhs, op = pe$op, rhs = pe$rhs, est = pe$est, se = pe$se, z = pe$z,
                        pvalue = pe$pvalue),
       std = data.frame(lhs = ss$lhs, op = ss$op, rhs = ss$rhs, est_std = ss$est.std, se = ss$se),
       fit = as.list(fm), seconds = unname(sec), warnings = warns)
}
out$hs_geomin_ml <- one(esem3, hs, estimator = "ML")
out$hs_geomin_ml_delta <- one(esem3, hs, estimator = "ML", rotation.se = "delta")
out$hs_geomin_eps01_ml <- one(esem3, hs, estimator = "ML", rotation.args = list(geomin.epsilon = 0.01))
out$hs_target_ml <- one(esem3, hs, estimator = "ML", rotation = "target", rotation.args = list(target = target_hs))
out$hs_target_full_ml <- one(esem3, hs, estimator = "ML", rotation = "target",
                             rotation.args = list(target = target_full))
out$hs_oblimin_ml <- one(esem3, hs, estimator = "ML", rotation = "oblimin")
out$hs_geomin_mlr <- one(esem3, hs, estimator = "MLR")
out$hs_varimax_ml <- one(esem3, hs, estimator = "ML", rotation = "varimax")
out$hs_set_esem_ml <- one(set_esem, hs, estimator = "ML")
out$bfi_two_blocks_ml <- one(two_blocks, bfi, estimator = "ML")
out$hs_bigeomin_ml <- one(bifac, hs, estimator = "ML", rotation = "bigeomin",
                          rotation.args = list(orthogonal = TRUE))
out$hs_bigeomin_oblique_ml <- one(bifac, hs, estimator = "ML", rotation = "bigeomin")
out$hs_biquartimin_ml <- one(bifac, hs, estimator = "ML", rotation = "biquartimin",
                             rotation.args = list(orthogonal = TRUE))
out$bfi_geomin_wlsmv <- one(bfi_esem, bfi, estimator = "WLSMV", ordered = items_bfi)
out$bfi_target_wlsmv <- one(bfi_esem, bfi, estimator = "WLSMV", ordered = items_bfi, rotation = "target",
                            rotation.args = list(target = target_bfi))
out$bfi_geomin_ml <- one(bfi_esem, bfi, estimator = "ML")
out$targets <- list(hs = target_hs, hs_full = target_full, bfi = target_bfi)
writeLines(toJSON(out, digits = NA, na = "null", auto_unbox = TRUE), "reference.json")
