# EFA references beyond reference.json: more rotations, principal axis, fit statistics.
# R 4.2.2, psych 2.2.9, GPArotation 2022.10-2.  Run from this folder: Rscript make_efa.R
suppressMessages({library(psych); library(GPArotation); library(jsonlite)})
d <- read.csv("data.csv")
X <- d[, grep("^i", names(d))]
one <- function(f) list(loadings = unclass(f$loadings), phi = if (is.null(f$Phi)) NULL else unclass(f$Phi),
                        communality = unname(f$communality),
                        fit = list(objective = f$objective, chisq = f$STATISTIC, df = f$dof, pvalue = f$PVAL,
                                   tli = f$TLI, rmsea = unname(f$RMSEA[1]), bic = f$BIC, rms = f$rms, crms = f$crms,
                                   null_chisq = f$null.chisq, null_df = f$null.dof))
out <- list(
  psych = as.character(packageVersion("psych")), GPArotation = as.character(packageVersion("GPArotation")),
  minres_oblimin = one(fa(X, nfactors = 6, rotate = "oblimin", fm = "minres")),
  minres_geomin = one(fa(X, nfactors = 6, rotate = "geominQ", fm = "minres")),
  minres_varimax = one(fa(X, nfactors = 6, rotate = "varimax", fm = "minres")),
  pa_promax = one(fa(X, nfactors = 6, rotate = "promax", fm = "pa")),
  ml_oblimin = one(fa(X, nfactors = 6, rotate = "oblimin", fm = "ml"))
)
# partially specified target: each block of items free on its factor, 0 elsewhere
blocks <- c(15, 12, 12, 6, 9, 6)
Tg <- matrix(0, 60, 6)
start <- cumsum(c(0, blocks))
for (j in 1:6) Tg[(start[j] + 1):start[j + 1], j] <- NA
f0 <- fa(X, nfactors = 6, rotate = "none", fm = "minres")
tq <- GPArotation::targetQ(unclass(f0$loadings), Target = Tg)
out$minres_target <- list(loadings = unclass(tq$loadings), phi = unclass(tq$Phi), target = Tg)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, na = "null"), "efa.json")
