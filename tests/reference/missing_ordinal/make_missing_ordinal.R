# Missing ordinal data: lavaan 0.6.14 references for WLSMV with missing = "pairwise" and for
# MLR with FIML (missing = "ml") and its FIML-corrected robust CFI/TLI/RMSEA, on
#   * psych::bfi (25 six-point items with their missing values; five factors), and
#   * psychTools::ability (16 binary items, 1,525 respondents; listwise deletion drops 18%).
# Run from this folder: Rscript make_missing_ordinal.R
library(lavaan)
library(psych)
library(psychTools)
library(jsonlite)
cat("lavaan", as.character(packageVersion("lavaan")), "psych", as.character(packageVersion("psych")),
    "psychTools", as.character(packageVersion("psychTools")), "\n")

bfi_items <- names(psych::bfi)[1:25]
bfi <- psych::bfi[, bfi_items]
bfi_model <- readLines("../bfi/model.lav")
ab <- as.data.frame(psychTools::ability)
names(ab) <- gsub(".", "_", names(ab), fixed = TRUE)
write.csv(ab, "ability.csv", row.names = FALSE, na = "")
ab_model <- c("reason =~ reason_4 + reason_16 + reason_17 + reason_19",
              "letter =~ letter_7 + letter_33 + letter_34 + letter_58",
              "matrix =~ matrix_45 + matrix_46 + matrix_47 + matrix_55",
              "rotate =~ rotate_3 + rotate_4 + rotate_6 + rotate_8")
writeLines(ab_model, "ability.lav")

wmeasures <- c("npar", "chisq", "df", "pvalue", "chisq.scaled", "df.scaled", "pvalue.scaled",
               "chisq.scaling.factor", "baseline.chisq", "baseline.df", "baseline.chisq.scaled",
               "cfi", "tli", "cfi.scaled", "tli.scaled", "cfi.robust", "tli.robust",
               "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "rmsea.scaled", "rmsea.ci.lower.scaled",
               "rmsea.ci.upper.scaled", "rmsea.robust", "rmsea.ci.lower.robust", "rmsea.ci.upper.robust", "srmr")
mmeasures <- c("npar", "chisq", "df", "pvalue", "chisq.scaled", "df.scaled", "pvalue.scaled",
               "chisq.scaling.factor", "baseline.chisq", "baseline.df", "baseline.chisq.scaled",
               "baseline.chisq.scaling.factor", "cfi", "tli", "cfi.scaled", "tli.scaled", "cfi.robust",
               "tli.robust", "logl", "unrestricted.logl", "aic", "bic", "rmsea", "rmsea.ci.lower",
               "rmsea.ci.upper", "rmsea.scaled", "rmsea.ci.lower.scaled", "rmsea.ci.upper.scaled",
               "rmsea.robust", "rmsea.ci.lower.robust", "rmsea.ci.upper.robust", "srmr")

est_table <- function(fit) {
  pe <- parameterEstimates(fit)
  pe[pe$op %in% c("=~", "~~", "|"), c("lhs", "op", "rhs", "est", "se")]
}

one_case <- function(data, model, items) {
  t0 <- proc.time()[3]
  w <- cfa(model, data = data, ordered = items, estimator = "WLSMV", missing = "pairwise")
  w_sec <- proc.time()[3] - t0
  t0 <- proc.time()[3]
  m <- cfa(model, data = data, estimator = "MLR", missing = "ml")
  m_sec <- proc.time()[3] - t0
  list(n = nrow(data), nobs_wlsmv = lavInspect(w, "nobs"), nobs_mlr = lavInspect(m, "nobs"),
       n_complete = sum(complete.cases(data[, items])), items = items,
       wlsmv = list(fit = as.list(fitMeasures(w, wmeasures)), est = est_table(w),
                    wls_obs = unname(lavInspect(w, "wls.obs")), wls_v = unname(diag(lavInspect(w, "wls.v"))),
                    seconds = w_sec),
       mlr_fiml = list(fit = as.list(fitMeasures(m, mmeasures)), est = est_table(m), seconds = m_sec))
}

out <- list(lavaan = as.character(packageVersion("lavaan")), psych = as.character(packageVersion("psych")),
            psychTools = as.character(packageVersion("psychTools")),
            bfi = one_case(bfi, paste(bfi_model, collapse = "\n"), bfi_items),
            ability = one_case(ab, paste(ab_model, collapse = "\n"), names(ab)))
# the full asymptotic covariance (lavaan's NACOV, lavInspect "gamma") of a small case: 6 bfi items
# (two factors) and 6 ability items, pairwise
small <- function(data, model, items) {
  w <- cfa(model, data = data[, items], ordered = items, estimator = "WLSMV", missing = "pairwise")
  list(items = items, model = model, gamma = unname(lavInspect(w, "gamma")),
       wls_obs = unname(lavInspect(w, "wls.obs")), fit = as.list(fitMeasures(w, wmeasures)))
}
out$bfi_small <- small(bfi, "A =~ A1 + A2 + A3\nC =~ C1 + C2 + C3", c("A1", "A2", "A3", "C1", "C2", "C3"))
out$ability_small <- small(ab, "r =~ reason_4 + reason_16 + reason_17\nl =~ letter_7 + letter_33 + letter_34",
                           c("reason_4", "reason_16", "reason_17", "letter_7", "letter_33", "letter_34"))
# a small FIML case (MLR, missing = "ml") for a fast test: 8 ability items, two factors
small_items <- c("reason_4", "reason_16", "reason_17", "reason_19", "letter_7", "letter_33", "letter_34", "letter_58")
small_model <- "r =~ reason_4 + reason_16 + reason_17 + reason_19\nl =~ letter_7 + letter_33 + letter_34 + letter_58"
ms <- cfa(small_model, data = ab[, small_items], estimator = "MLR", missing = "ml")
out$ability_small_fiml <- list(items = small_items, model = small_model, nobs = lavInspect(ms, "nobs"),
                               fit = as.list(fitMeasures(ms, mmeasures)), est = est_table(ms))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE), "reference.json")
