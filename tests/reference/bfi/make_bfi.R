# Public data set for end-to-end validation runs: psych::bfi (SAPA project; Revelle, 2010),
# 2,800 respondents x 25 six-point personality items, with gender (1 = male, 2 = female),
# education and age. Also lavaan 0.6.14 fits of the five-factor model as references.
# R 4.2.2, psych 2.2.9, lavaan 0.6.14.  Run from this folder: Rscript make_bfi.R
library(psych)
library(lavaan)
library(jsonlite)
d <- psych::bfi
d$gender <- ifelse(d$gender == 1, "male", "female")
write.csv(d, "data.csv", row.names = FALSE, na = "")
model <- "
agreeableness =~ A1 + A2 + A3 + A4 + A5
conscientiousness =~ C1 + C2 + C3 + C4 + C5
extraversion =~ E1 + E2 + E3 + E4 + E5
neuroticism =~ N1 + N2 + N3 + N4 + N5
openness =~ O1 + O2 + O3 + O4 + O5
"
writeLines(trimws(model), "model.lav")
items <- names(d)[1:25]
cc <- d[complete.cases(d[, items]), ]
measures <- c("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "srmr",
              "aic", "bic")
t0 <- proc.time()[3]
ml <- cfa(model, data = cc, estimator = "ML")
ml_sec <- proc.time()[3] - t0
t0 <- proc.time()[3]
wl <- cfa(model, data = cc, ordered = items, estimator = "WLSMV")
wl_sec <- proc.time()[3] - t0
wmeasures <- c("chisq", "df", "chisq.scaled", "df.scaled", "pvalue.scaled", "cfi.scaled", "tli.scaled",
               "rmsea.scaled", "cfi.robust", "tli.robust", "rmsea.robust", "srmr")
out <- list(
  lavaan = as.character(packageVersion("lavaan")), psych = as.character(packageVersion("psych")),
  n_complete = nrow(cc), items = items,
  cfa_ml = list(fit = as.list(fitMeasures(ml, measures)), seconds = ml_sec,
                std = standardizedSolution(ml)[standardizedSolution(ml)$op == "=~", c("lhs", "op", "rhs", "est.std")]),
  cfa_wlsmv = list(fit = as.list(fitMeasures(wl, wmeasures)), seconds = wl_sec,
                   std = standardizedSolution(wl)[standardizedSolution(wl)$op == "=~", c("lhs", "op", "rhs", "est.std")])
)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE), "reference.json")
