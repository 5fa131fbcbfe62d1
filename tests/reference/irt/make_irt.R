# IRT (normal-ogive graded response model) equivalent of a two-factor WLSMV fit, and the fit
# measures of that candidate model, on items i40-i45 and i55-i60 of sim60 (5-point, N = 500).
# The transformation is psych's fa2irt (an implementation independent of allyscale's) applied to
# lavaan's standardized loadings and thresholds.  Run from this folder: Rscript make_irt.R
suppressMessages({library(lavaan); library(psych); library(jsonlite)})
cat("R", R.version.string, "lavaan", as.character(packageVersion("lavaan")),
    "psych", as.character(packageVersion("psych")), "jsonlite", as.character(packageVersion("jsonlite")), "\n")
d <- read.csv("../sim60/data.csv")
items <- c(sprintf("i%02d", 40:45), sprintf("i%02d", 55:60))
model <- "knowledge =~ i40 + i41 + i42 + i43 + i44 + i45
communication =~ i55 + i56 + i57 + i58 + i59 + i60"
writeLines(model, "model.lav")
fit <- cfa(model, data = d[, items], ordered = items, estimator = "WLSMV")
std <- lavInspect(fit, "std")
lam <- std$lambda                       # items x factors, standardized
th <- lavInspect(fit, "th")            # thresholds (unit latent-response variances)
tau <- matrix(th, nrow = length(items), byrow = TRUE, dimnames = list(items, paste0("t", 1:4)))
# psych::fa2irt needs an fa-like object with $loadings and a polychoric-like object with $tau and $rho
f <- list(loadings = lam)
rho <- list(rho = lavInspect(fit, "cor.ov"), tau = tau)
irt <- fa2irt(f, rho, plot = FALSE)
fm <- fitMeasures(fit, c("chisq", "df", "chisq.scaled", "df.scaled", "pvalue.scaled", "chisq.scaling.factor",
                         "cfi.scaled", "tli.scaled", "rmsea.scaled", "srmr", "baseline.chisq",
                         "baseline.chisq.scaled"))
out <- list(items = items, factors = colnames(lam),
            loadings = unname(lam), thresholds = unname(tau),
            factor_corr = unname(std$psi),
            discrimination = unname(irt$irt$discrimination),
            difficulty = lapply(irt$irt$difficulty, unname),
            fit = as.list(fm))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE), "reference.json")
