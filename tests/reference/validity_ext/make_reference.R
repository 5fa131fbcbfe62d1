# References for tests/test_validity_ext.py (allyscale/validity_ext.py).
# R 4.x, lavaan 0.6.14. Run from this folder:  Rscript make_reference.R
library(lavaan)
stopifnot(packageVersion("lavaan") == "0.6.14")
d <- read.csv("data.csv")
items <- c(paste0("a", 1:4), paste0("b", 1:4), paste0("x", 1:3), paste0("s", 1:3))

# 1. latent convergent / discriminant correlations: allyship factors + external factors, WLSMV
m_lat <- "
ally_a =~ a1 + a2 + a3 + a4
ally_b =~ b1 + b2 + b3 + b4
arbi =~ x1 + x2 + x3
sdes =~ s1 + s2 + s3
"
f_lat <- cfa(m_lat, data = d, ordered = items, estimator = "WLSMV", std.lv = TRUE)
pe <- parameterEstimates(f_lat)
write.csv(pe[pe$op == "~~" & pe$lhs != pe$rhs, c("lhs", "op", "rhs", "est", "se", "z", "pvalue",
                                                 "ci.lower", "ci.upper")],
          "latent_wlsmv.csv", row.names = FALSE)
write.csv(data.frame(measure = names(fitMeasures(f_lat, c("chisq.scaled", "df.scaled", "cfi.scaled"))),
                     value = fitMeasures(f_lat, c("chisq.scaled", "df.scaled", "cfi.scaled"))),
          "latent_wlsmv_fit.csv", row.names = FALSE)

# 2. known groups: latent means of the scalar model (thresholds, loadings, intercepts equal), WLSMV
m_kg <- "
ally_a =~ a1 + a2 + a3 + a4
ally_b =~ b1 + b2 + b3 + b4
"
f_kg <- cfa(m_kg, data = d, group = "g", ordered = items[1:8], estimator = "WLSMV",
            group.equal = c("thresholds", "loadings", "intercepts"))
pe <- parameterEstimates(f_kg)
write.csv(pe[(pe$op == "~1" & pe$lhs %in% c("ally_a", "ally_b")) |
             (pe$op == "~~" & pe$lhs == pe$rhs & pe$lhs %in% c("ally_a", "ally_b")),
             c("lhs", "op", "rhs", "group", "est", "se", "z", "pvalue", "ci.lower", "ci.upper")],
          "known_groups_wlsmv.csv", row.names = FALSE)

# 3. known groups, ML on the same items as continuous (scalar model: loadings and intercepts equal)
f_ml <- cfa(m_kg, data = d, group = "g", group.equal = c("loadings", "intercepts"))
pe <- parameterEstimates(f_ml)
write.csv(pe[(pe$op == "~1" & pe$lhs %in% c("ally_a", "ally_b")) |
             (pe$op == "~~" & pe$lhs == pe$rhs & pe$lhs %in% c("ally_a", "ally_b")),
             c("lhs", "op", "rhs", "group", "est", "se", "z", "pvalue", "ci.lower", "ci.upper")],
          "known_groups_ml.csv", row.names = FALSE)
# 4. observed scores: scale mean scores, their raw alpha (psych) and Pearson r with sds_total
library(psych)
sa <- rowMeans(d[, paste0("a", 1:4)]); sb <- rowMeans(d[, paste0("b", 1:4)])
ct <- cor.test(sa, d$sds_total)
write.csv(data.frame(
  scale = c("ally_a", "ally_b"),
  alpha = c(psych::alpha(d[, paste0("a", 1:4)])$total$raw_alpha, psych::alpha(d[, paste0("b", 1:4)])$total$raw_alpha),
  r = c(cor(sa, d$sds_total), cor(sb, d$sds_total)),
  r_lower = c(ct$conf.int[1], cor.test(sb, d$sds_total)$conf.int[1]),
  r_upper = c(ct$conf.int[2], cor.test(sb, d$sds_total)$conf.int[2])), "observed_scores.csv", row.names = FALSE)

# 5. test-retest: scale mean scores at both waves (merged by id), psych::ICC(lmer = FALSE)
w2 <- read.csv("retest.csv")
mm <- merge(d, w2, by = "id", suffixes = c(".t1", ".t2"))
out <- NULL
for (f in c("a", "b")) {
  t1 <- rowMeans(mm[, paste0(f, 1:4, ".t1")]); t2 <- rowMeans(mm[, paste0(f, 1:4, ".t2")])
  ic <- psych::ICC(cbind(t1, t2), lmer = FALSE)$results
  out <- rbind(out, data.frame(scale = paste0("ally_", f), type = ic$type, icc = ic$ICC, lower = ic$"lower bound",
                               upper = ic$"upper bound", r = cor(t1, t2), sd1 = sd(t1)))
}
write.csv(out, "retest_icc.csv", row.names = FALSE)
# 6. latent incremental validity (ML: the outcome y is continuous): y on arbi, then arbi + ally_a + ally_b;
#    y enters as a single-indicator factor (Y =~ 1*y, y ~~ 0*y), the same model as y ~ ... in lavaan
m_inc <- "
ally_a =~ a1 + a2 + a3 + a4
ally_b =~ b1 + b2 + b3 + b4
arbi =~ x1 + x2 + x3
Y =~ 1*y
y ~~ 0*y
"
f1 <- sem(paste(m_inc, "Y ~ arbi + ally_a + ally_b"), data = d)
f0 <- sem(paste(m_inc, "Y ~ arbi + 0*ally_a + 0*ally_b"), data = d)
pe <- parameterEstimates(f1, standardized = TRUE)
reg <- pe[pe$op == "~", c("lhs", "op", "rhs", "est", "se", "z", "pvalue", "ci.lower", "ci.upper", "std.all")]
phi <- lavInspect(f1, "cov.lv")
r2_full <- lavInspect(f1, "r2")[["Y"]]
b <- "arbi"
r2_base <- as.numeric(phi["Y", b, drop = FALSE] %*% solve(phi[b, b, drop = FALSE]) %*% phi[b, "Y", drop = FALSE]) /
  phi["Y", "Y"]
lrt <- anova(f0, f1)
write.csv(reg, "incremental_latent_paths.csv", row.names = FALSE)
write.csv(data.frame(r2_full = r2_full, r2_base = r2_base, chisq_full = fitMeasures(f1, "chisq"),
                     chisq_diff = lrt[["Chisq diff"]][2], df_diff = lrt[["Df diff"]][2],
                     p_diff = lrt[["Pr(>Chisq)"]][2]), "incremental_latent.csv", row.names = FALSE)
# 7. latent stability: both waves' items in one model (measEq.syntax, semTools), residuals of each item
#    correlated across waves; the level allyscale's fit policy accepts on these data is "thresholds"
library(semTools)
items8 <- c(paste0("a", 1:4), paste0("b", 1:4))
wide <- merge(d[, c("id", items8)], w2[, c("id", items8)], by = "id", suffixes = c("_t1", "_t2"))
cols <- c(paste0(items8, "_t1"), paste0(items8, "_t2"))
paired <- paste(sapply(c("t1", "t2"), function(t) paste0(
  "ally_a_", t, " =~ ", paste0("a", 1:4, "_", t, collapse = " + "), "\n",
  "ally_b_", t, " =~ ", paste0("b", 1:4, "_", t, collapse = " + "))), collapse = "\n")
lf <- list(ally_a = c("ally_a_t1", "ally_a_t2"), ally_b = c("ally_b_t1", "ally_b_t2"))
li <- setNames(lapply(items8, function(i) paste0(i, c("_t1", "_t2"))), items8)
stab <- NULL
for (lv in c("configural", "thresholds")) {
  syn <- measEq.syntax(paired, data = wide, ordered = cols, parameterization = "delta", ID.fac = "std.lv",
                       ID.cat = "Wu.Estabrook.2016", longFacNames = lf, longIndNames = li,
                       long.equal = if (lv == "configural") "" else "thresholds", auto = "all")
  fit <- cfa(as.character(syn), data = wide, ordered = cols, estimator = "WLSMV", parameterization = "delta")
  ss <- standardizedSolution(fit)
  for (f in c("ally_a", "ally_b")) {
    r <- ss[ss$op == "~~" & ss$lhs == paste0(f, "_t1") & ss$rhs == paste0(f, "_t2"), ]
    stab <- rbind(stab, data.frame(level = lv, factor = f, std_all = r$est.std, se = r$se,
                                   chisq_scaled = fitMeasures(fit, "chisq.scaled")))
  }
}
write.csv(stab, "latent_stability.csv", row.names = FALSE)
# 8. the latent d of known groups and its delta-method SE from the scalar model's vcov():
#    d = mean_focal / sqrt(p), p = ((n1 - 1) psi_1 + (n2 - 1) psi_2) / (n1 + n2 - 2)
kg_d <- NULL
for (est in c("WLSMV", "ML")) {
  f0 <- if (est == "WLSMV") f_kg else f_ml
  pt <- parTable(f0)
  nn <- lavInspect(f0, "nobs")
  V <- vcov(f0)
  fr <- function(lhs, op, rhs, g) pt$free[pt$lhs == lhs & pt$op == op & pt$rhs == rhs & pt$group == g]
  va <- function(lhs, op, rhs, g) pt$est[pt$lhs == lhs & pt$op == op & pt$rhs == rhs & pt$group == g]
  for (f in c("ally_a", "ally_b")) {
    mu <- va(f, "~1", "", 2); v1 <- va(f, "~~", f, 1); v2 <- va(f, "~~", f, 2)
    w1 <- (nn[1] - 1) / (sum(nn) - 2); w2 <- (nn[2] - 1) / (sum(nn) - 2)
    p <- w1 * v1 + w2 * v2
    dl <- mu / sqrt(p)
    g <- numeric(nrow(V))
    idx <- c(fr(f, "~1", "", 2), fr(f, "~~", f, 1), fr(f, "~~", f, 2))
    grad <- c(1 / sqrt(p), -dl * w1 / (2 * p), -dl * w2 / (2 * p))
    for (k in seq_along(idx)) if (idx[k] > 0) g[idx[k]] <- g[idx[k]] + grad[k]
    se <- sqrt(drop(t(g) %*% V %*% g))
    kg_d <- rbind(kg_d, data.frame(estimator = est, factor = f, d_latent = dl, se = se,
                                   ci.lower = dl - qnorm(.975) * se, ci.upper = dl + qnorm(.975) * se))
  }
}
write.csv(kg_d, "known_groups_d.csv", row.names = FALSE)
writeLines(paste("lavaan", packageVersion("lavaan"), "| psych", packageVersion("psych"), "| semTools", packageVersion("semTools"), "|", R.version.string), "versions.txt")
