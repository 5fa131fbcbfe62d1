# Reliability and validity references beyond sim60/reference.json: alpha item statistics and
# Feldt interval, omega group table, ICC (test-retest), split halves, factor correlations with
# CIs, and model-based bifactor coefficients.
# R 4.2.2, psych 2.2.9, lavaan 0.6.14, semTools 0.5.6.  Run from this folder: Rscript make_reliability.R
suppressMessages({library(psych); library(lavaan); library(semTools); library(jsonlite)})
d <- read.csv("../sim60/data.csv")
X <- d[, grep("^i", names(d))]
model <- paste(readLines("../sim60/model.lav"), collapse = "\n")
trust <- X[, sprintf("i%02d", 1:15)]

# alpha: item statistics, Feldt CI, ase
a <- psych::alpha(trust, check.keys = FALSE)
alpha_trust <- list(raw_r = unname(a$item.stats$raw.r), std_r = unname(a$item.stats$std.r),
                    r_cor = unname(a$item.stats$r.cor), mean = unname(a$item.stats$mean),
                    sd = unname(a$item.stats$sd), average_r = a$total$average_r, ase = a$total$ase,
                    total_mean = a$total$mean, total_sd = a$total$sd,
                    feldt = list(lower = a$feldt$lower.ci[[1]], upper = a$feldt$upper.ci[[1]]),
                    freq = unname(as.matrix(a$response.freq)),
                    drop_std_alpha = unname(a$alpha.drop$std.alpha), drop_G6 = unname(a$alpha.drop$"G6(smc)"))

# alpha with missing responses (every 7th row misses i03, every 11th misses i05 and i09): psych uses
# pairwise-complete covariances
tm <- trust
tm[seq(1, 500, 7), "i03"] <- NA
tm[seq(2, 500, 11), c("i05", "i09")] <- NA
am <- psych::alpha(tm, check.keys = FALSE)
alpha_missing <- list(raw_alpha = am$total$raw_alpha, std_alpha = am$total$std.alpha, G6 = am$total$"G6(smc)",
                      r_drop = unname(am$item.stats$r.drop), raw_r = unname(am$item.stats$raw.r),
                      alpha_if_dropped = unname(am$alpha.drop$raw_alpha), n = unname(am$item.stats$n),
                      feldt = list(lower = am$feldt$lower.ci[[1]], upper = am$feldt$upper.ci[[1]]))

# two items (psych's special case for alpha if dropped); two group factors (option = "equal")
a2 <- psych::alpha(trust[, 1:2], check.keys = FALSE)
alpha_two <- list(raw_alpha = a2$total$raw_alpha, std_alpha = a2$total$std.alpha,
                  alpha_if_dropped = unname(a2$alpha.drop$raw_alpha), r_drop = unname(a2$item.stats$r.drop))
X2 <- X[, c(sprintf("i%02d", 40:45), sprintf("i%02d", 55:60))]
om2 <- psych::omega(X2, nfactors = 2, plot = FALSE)

# omega with six factors (the reference's) and with psych's default three
om6 <- psych::omega(X, nfactors = 6, plot = FALSE)
om3 <- psych::omega(X, nfactors = 3, plot = FALSE)
om6p <- psych::omega(X, nfactors = 6, poly = TRUE, plot = FALSE)
om_out <- function(o) list(omega_h = o$omega_h, omega_t = o$omega.tot, alpha = o$alpha, G6 = o$G6, ECV = unname(o$ECV),
                           omega_lim = o$omega.lim, group_total = o$omega.group$total,
                           group_general = o$omega.group$general, group_group = o$omega.group$group)

# test-retest: scale score at time 1 and a noisy, shifted retest
set.seed(20261122)
t1 <- rowMeans(trust)
retest <- data.frame(time1 = t1, time2 = 0.9 * t1 + 0.4 + rnorm(length(t1), 0, 0.3))
write.csv(retest, "retest.csv", row.names = FALSE)
ic <- psych::ICC(retest, lmer = FALSE)
icl <- psych::ICC(retest)  # default lmer = TRUE
icc_out <- list(icc = ic$results$ICC, F = ic$results$F, df1 = ic$results$df1, df2 = ic$results$df2,
                p = ic$results$p, lower = ic$results$"lower bound", upper = ic$results$"upper bound",
                type = ic$results$type, lmer_icc = icl$results$ICC)

# external (convergent) correlation of the trust score with the retest, Fisher-z CI
ct <- cor.test(rowMeans(trust), retest$time2)
ext <- list(r = unname(ct$estimate), lower = ct$conf.int[1], upper = ct$conf.int[2], p = ct$p.value)

# split halves of the trust items (odd-even, first 8 vs last 7), Spearman-Brown and Guttman
sh <- function(h1, h2) {
  A <- rowSums(trust[, h1]); B <- rowSums(trust[, h2]); r <- cor(A, B)
  list(r_halves = r, spearman_brown = 2 * r / (1 + r), guttman = 2 * (1 - (var(A) + var(B)) / var(A + B)))
}
split <- list(odd_even = sh(seq(1, 15, 2), seq(2, 15, 2)), first_second = sh(1:8, 9:15))
# all splits (psych::splitHalf): 15 trust items (odd) and 12 action items (even)
sp15 <- psych::splitHalf(trust, check.keys = FALSE)
sp12 <- psych::splitHalf(X[, sprintf("i%02d", 16:27)], check.keys = FALSE)
split_all <- list(trust = list(max = sp15$maxrb, min = sp15$minrb, mean = sp15$meanr),
                  action = list(max = sp12$maxrb, min = sp12$minrb, mean = sp12$meanr))

# composite reliability of the total score (return.total = TRUE) with the ML fit
fit_ml <- cfa(model, data = d)
crt <- compRelSEM(fit_ml, return.total = TRUE)
comp_rel_total_ml <- crt[["total"]]

# HTMT variants: arithmetic means (htmt2 = FALSE) and polychoric correlations (ordered)
htmt_arith <- unclass(semTools::htmt(model, data = d, htmt2 = FALSE))
htmt_ord <- unclass(semTools::htmt(model, data = d, ordered = names(X)))

# WLSMV: AVE on the latent-response scale (compRelSEM(return.total = TRUE) stops with an error
# inside semTools' omegaCat for this fit, so there is no total-score reference)
fit_w <- cfa(model, data = d, ordered = names(X), estimator = "WLSMV")
wlsmv <- list(ave = as.list(AVE(fit_w)))

# a cross-loading item: compRelSEM still reports omega, AVE gives NA
xmod <- "f1 =~ i40 + i41 + i42 + i43\nf2 =~ i55 + i56 + i57 + i58 + i43"
xfit <- cfa(xmod, data = d)
cross <- list(model = xmod, omega = as.list(compRelSEM(xfit)), ave = as.list(AVE(xfit)))

# factor correlations with Wald CIs (std.lv = TRUE)
fit_lv <- cfa(model, data = d, std.lv = TRUE)
pe <- parameterEstimates(fit_lv)
lv <- lavNames(fit_lv, "lv")
fc <- pe[pe$op == "~~" & pe$lhs %in% lv & pe$rhs %in% lv & pe$lhs != pe$rhs, ]
fcor <- list(lhs = fc$lhs, rhs = fc$rhs, est = fc$est, se = fc$se, ci_lower = fc$ci.lower, ci_upper = fc$ci.upper)

# bifactor model of the sim60 items (g + the six factors, orthogonal); compRelSEM with the
# model-implied variance (obs.var = FALSE) on standardized items gives omega_h (g), omega_hs
# (group factors) and omega (total) in the metric of standardized items
Z <- as.data.frame(scale(X))
bmod <- paste(c(paste("g =~", paste(names(X), collapse = " + ")), readLines("../sim60/model.lav")), collapse = "\n")
bfit <- cfa(bmod, data = Z, std.lv = TRUE, orthogonal = TRUE)
ss <- standardizedSolution(bfit)
ss <- ss[ss$op %in% c("=~", "~~"), c("lhs", "op", "rhs", "est.std")]
cr <- compRelSEM(bfit, obs.var = FALSE, return.total = TRUE)
bif <- list(converged = lavInspect(bfit, "converged"), std = ss, comp_rel_implied = as.list(cr), model = bmod)

# second-order model (g over the six factors) on standardized items: compRelSEM(higher = "g",
# obs.var = FALSE) is omega_h of the Schmid-Leiman form of the model
smod <- paste(c(readLines("../sim60/model.lav"), paste("g =~", paste(lv, collapse = " + "))), collapse = "\n")
sfit <- cfa(smod, data = Z, std.lv = TRUE)
s2 <- standardizedSolution(sfit)
s2 <- s2[s2$op %in% c("=~", "~~"), c("lhs", "op", "rhs", "est.std")]
scr <- compRelSEM(sfit, obs.var = FALSE, higher = "g")
sec <- list(converged = lavInspect(sfit, "converged"), std = s2, comp_rel_implied = as.list(scr), model = smod)

# indicative timings on a shared machine (elapsed seconds, best of 3)
best <- function(expr) min(replicate(3, system.time(eval(expr))[["elapsed"]]))
seconds <- list(alpha60 = best(quote(psych::alpha(X, check.keys = FALSE))),
                omega6 = best(quote(psych::omega(X, nfactors = 6, plot = FALSE))),
                htmt = best(quote(semTools::htmt(model, data = d))),
                icc = best(quote(psych::ICC(retest, lmer = FALSE))))

out <- list(psych = as.character(packageVersion("psych")), lavaan = as.character(packageVersion("lavaan")),
            semTools = as.character(packageVersion("semTools")),
            alpha_trust = alpha_trust, alpha_missing = alpha_missing, omega6 = om_out(om6), omega3 = om_out(om3), omega6_poly = om_out(om6p), omega2 = om_out(om2), alpha_two = alpha_two, icc = icc_out,
            split_half = split, split_all = split_all, external = ext, factor_cor = fcor, cross_loading = cross, htmt_arith = htmt_arith, htmt_ordered = htmt_ord, comp_rel_total_ml = comp_rel_total_ml, wlsmv = wlsmv, bifactor_sim60 = bif, second_order_sim60 = sec, seconds = seconds)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, na = "null"), "reference.json")
