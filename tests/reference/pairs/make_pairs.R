# References for the paired self-informant design (allyscale issue: paired invariance, CT-C(M-1),
# lavTestScore). R 4.2.2, lavaan 0.6.14, semTools 0.5.6.   Rscript make_pairs.R   (writes reference.json)
#  * ordinal: measEq.syntax(longFacNames, longIndNames, ID.fac = "std.lv", ID.cat = "Wu.Estabrook.2016",
#    parameterization = "delta") for configural, thresholds, + loadings, + intercepts; WLSMV; lavTestLRT;
#    lavTestScore on the thresholds and scalar models, modindices of the scalar model's fixed intercepts;
#    a partial scalar model (intercepts of b2, b3 free)
#  * continuous: the same with ML on the items as numbers (configural, loadings, intercepts, residuals)
#  * HS (../hs/data.csv): lavTestScore of the multi-group ML scalar model
#  * CT-C(M-1) (Eid et al., 2003), self-report as reference: ML and WLSMV on data.csv, MLR with
#    cluster = "target" on long.csv (three informants per target)
suppressPackageStartupMessages({library(lavaan); library(semTools); library(jsonlite)})
cat("lavaan", as.character(packageVersion("lavaan")), "semTools", as.character(packageVersion("semTools")), "\n")
d <- read.csv("data.csv")
long <- read.csv("long.csv")
items <- c("a1", "a2", "a3", "a4", "b1", "b2", "b3", "b4")
base <- "A =~ a1 + a2 + a3 + a4\nB =~ b1 + b2 + b3 + b4"
paired <- paste0("A_self =~ ", paste0(items[1:4], "_self", collapse = " + "), "\n",
                 "B_self =~ ", paste0(items[5:8], "_self", collapse = " + "), "\n",
                 "A_informant =~ ", paste0(items[1:4], "_informant", collapse = " + "), "\n",
                 "B_informant =~ ", paste0(items[5:8], "_informant", collapse = " + "))
lf <- list(A = c("A_self", "A_informant"), B = c("B_self", "B_informant"))
li <- setNames(lapply(items, function(i) paste0(i, c("_self", "_informant"))), items)
cols <- unlist(li)
fm <- c("npar", "chisq", "df", "pvalue", "chisq.scaled", "df.scaled", "pvalue.scaled", "chisq.scaling.factor",
        "cfi", "tli", "rmsea", "srmr", "cfi.scaled", "tli.scaled", "rmsea.scaled", "cfi.robust", "rmsea.robust",
        "baseline.chisq", "baseline.chisq.scaled")
fmc <- c("npar", "chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr", "aic", "bic")
pe_cols <- c("lhs", "op", "rhs", "label", "est", "se")
pe <- function(fit, std = FALSE) {
  x <- parameterEstimates(fit, standardized = std)
  if (is.null(x$label)) x$label <- ""
  x[, c(pe_cols, if (std) "std.all")]
}
out <- list(lavaan = as.character(packageVersion("lavaan")), semTools = as.character(packageVersion("semTools")))

score_table <- function(fit, release = NULL) {
  st <- if (is.null(release)) lavTestScore(fit) else lavTestScore(fit, release = release)
  pt <- parTable(fit)
  who <- function(pl) { r <- pt[pt$plabel == pl, ]; paste(r$lhs, r$op, r$rhs) }
  uni <- st$uni
  uni$lhs_par <- vapply(uni$lhs, who, ""); uni$rhs_par <- vapply(uni$rhs, who, "")
  list(total = as.list(st$test[1, c("X2", "df", "p.value")]), uni = uni[, c("lhs_par", "rhs_par", "X2", "p.value")])
}

# ---------------------------------------------------------------- ordinal paired invariance
olevels <- list(configural = "", thresholds = "thresholds", metric = c("thresholds", "loadings"),
                scalar = c("thresholds", "loadings", "intercepts"))
ofits <- list()
for (lv in names(olevels)) {
  syn <- measEq.syntax(paired, data = d, ordered = cols, parameterization = "delta", ID.fac = "std.lv",
                       ID.cat = "Wu.Estabrook.2016", longFacNames = lf, longIndNames = li,
                       long.equal = olevels[[lv]], auto = "all")
  fit <- cfa(as.character(syn), data = d, ordered = cols, estimator = "WLSMV", parameterization = "delta")
  ofits[[lv]] <- fit
  out$ordinal[[lv]] <- list(fit = as.list(fitMeasures(fit, fm)), est = parameterEstimates(fit)[, pe_cols],
                            syntax = as.character(syn))
}
for (i in 2:length(ofits)) {
  t <- lavTestLRT(ofits[[i]], ofits[[i - 1]])
  out$ordinal[[names(ofits)[i]]]$lrt <- list(chisq_diff = t[2, "Chisq diff"], df_diff = t[2, "Df diff"],
                                              pvalue = t[2, "Pr(>Chisq)"])
}
out$ordinal$scalar$score <- score_table(ofits$scalar)
# freeing the intercepts fixed at 0 (the partial search at the scalar level): modification indices
out$ordinal$scalar$mi_intercepts <- modindices(ofits$scalar, op = "~1", minimum.value = 0)[, c("lhs", "op", "rhs", "mi")]
out$ordinal$thresholds$score <- score_table(ofits$thresholds)
# joint test of the three threshold constraints of b2 (the rows naming b2_informant thresholds)
st <- lavTestScore(ofits$thresholds)
pt <- parTable(ofits$thresholds)
rows <- which(vapply(st$uni$rhs, function(pl) pt$lhs[pt$plabel == pl] == "b2_informant" &&
                                              pt$op[pt$plabel == pl] == "|", TRUE))
out$ordinal$thresholds$score_b2 <- as.list(lavTestScore(ofits$thresholds, release = rows, univariate = FALSE)$test[1, c("X2", "df")])
# partial scalar: intercepts of b2 and b3 free in the informant form
syn <- out$ordinal$scalar$syntax
syn <- sub("b2_informant ~ 0*1 + nu.6*1", "b2_informant ~ NA*1 + nu.14*1", syn, fixed = TRUE)
syn <- sub("b3_informant ~ 0*1 + nu.7*1", "b3_informant ~ NA*1 + nu.15*1", syn, fixed = TRUE)
pfit <- cfa(syn, data = d, ordered = cols, estimator = "WLSMV", parameterization = "delta")
t <- lavTestLRT(pfit, ofits$metric)
out$ordinal$scalar_partial <- list(fit = as.list(fitMeasures(pfit, fm)), est = parameterEstimates(pfit)[, pe_cols],
                                   lrt = list(chisq_diff = t[2, "Chisq diff"], df_diff = t[2, "Df diff"],
                                              pvalue = t[2, "Pr(>Chisq)"]), syntax = syn)

# ---------------------------------------------------------------- continuous paired invariance (ML)
clevels <- list(configural = "", metric = "loadings", scalar = c("loadings", "intercepts"),
                strict = c("loadings", "intercepts", "residuals"))
cfits <- list()
for (lv in names(clevels)) {
  syn <- measEq.syntax(paired, data = d, ID.fac = "std.lv", longFacNames = lf, longIndNames = li,
                       long.equal = clevels[[lv]], auto = "all")
  fit <- cfa(as.character(syn), data = d, estimator = "ML")
  cfits[[lv]] <- fit
  out$continuous[[lv]] <- list(fit = as.list(fitMeasures(fit, fmc)), est = parameterEstimates(fit)[, pe_cols],
                               syntax = as.character(syn))
}
for (i in 2:length(cfits)) {
  t <- lavTestLRT(cfits[[i]], cfits[[i - 1]])
  out$continuous[[names(cfits)[i]]]$lrt <- list(chisq_diff = t[2, "Chisq diff"], df_diff = t[2, "Df diff"],
                                                 pvalue = t[2, "Pr(>Chisq)"])
}
out$continuous$scalar$score <- score_table(cfits$scalar)
out$continuous$metric$score <- score_table(cfits$metric)

# ---------------------------------------------------------------- HS multi-group lavTestScore
hs <- read.csv("../hs/data.csv")
hsm <- readLines("../hs/model.lav")
hfit <- cfa(paste(hsm, collapse = "\n"), data = hs, group = "school", group.equal = c("loadings", "intercepts"))
sc <- lavTestScore(hfit)
hpt <- parTable(hfit)
who <- function(pl) { r <- hpt[hpt$plabel == pl, ]; paste(r$lhs, r$op, r$rhs, r$group) }
out$hs_scalar_score <- list(total = as.list(sc$test[1, c("X2", "df", "p.value")]),
                            uni = data.frame(lhs_par = vapply(sc$uni$lhs, who, ""), rhs_par = vapply(sc$uni$rhs, who, ""),
                                             X2 = sc$uni$X2))

# ---------------------------------------------------------------- CT-C(M-1)
ctc <- paste0("A =~ ", paste0(c(paste0(items[1:4], "_self"), paste0(items[1:4], "_informant")), collapse = " + "), "\n",
              "B =~ ", paste0(c(paste0(items[5:8], "_self"), paste0(items[5:8], "_informant")), collapse = " + "), "\n",
              "M_A =~ ", paste0(items[1:4], "_informant", collapse = " + "), "\n",
              "M_B =~ ", paste0(items[5:8], "_informant", collapse = " + "), "\n",
              "A ~~ 0*M_A + 0*M_B\nB ~~ 0*M_A + 0*M_B\n")
out$ctcm1$syntax <- ctc
f1 <- cfa(ctc, data = d, estimator = "ML")
out$ctcm1$ml <- list(fit = as.list(fitMeasures(f1, fmc)), est = pe(f1, TRUE))
f2 <- cfa(ctc, data = d, ordered = cols, estimator = "WLSMV")
out$ctcm1$wlsmv <- list(fit = as.list(fitMeasures(f2, fm)), est = pe(f2, TRUE))
f3 <- cfa(ctc, data = long, estimator = "MLR", cluster = "target")
out$ctcm1$mlr_cluster <- list(fit = as.list(fitMeasures(f3, c("npar", "chisq", "df", "chisq.scaled", "chisq.scaling.factor",
                                                             "cfi.robust", "rmsea.robust", "srmr"))),
                              est = pe(f3))
f4 <- cfa(ctc, data = long, estimator = "MLR")
out$ctcm1$mlr <- list(est = pe(f4))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = FALSE, na = "null"), "reference.json")
