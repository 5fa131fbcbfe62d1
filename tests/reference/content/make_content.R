# References for allyscale/content.py: inter-rater agreement (irr 0.84.1) and content-validity
# indices (ValContent 0.1.0, Merino-Soto, Livia Segovia & Livia Ortiz: an independent R implementation
# of Aiken's V with score intervals, kappa* and Lawshe's CVR with Ayre & Scally's critical values).
# irr and ValContent are not Debian packages: both were installed from their source repositories
# (R CMD INSTALL) into a private library given as R_LIBS_USER.
# Run from this folder: Rscript make_content.R
suppressPackageStartupMessages({library(jsonlite); library(irr); library(ValContent)})
cat("R", R.version.string, "\n")
for (p in c("irr", "ValContent", "jsonlite", "lpSolve")) cat(p, as.character(packageVersion(p)), "\n")
out <- list(versions = list(R = R.version.string, irr = as.character(packageVersion("irr")),
                            ValContent = as.character(packageVersion("ValContent"))))

# 1. Fleiss (1971), Table 1: 30 patients, 6 psychiatrists, 5 diagnoses (irr's `diagnoses`)
data(diagnoses)
write.csv(data.frame(lapply(diagnoses, as.character)), "fleiss1971_diagnoses.csv", row.names = FALSE)
fk <- kappam.fleiss(diagnoses)
out$fleiss1971 <- list(kappa = fk$value, z = fk$statistic[[1]], p = fk$p.value)

# 2. Krippendorff (2011), the example with missing data: 4 observers x 12 units
kx <- rbind(c(1, 2, 3, 3, 2, 1, 4, 1, 2, NA, NA, NA),
            c(1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NA, 3),
            c(NA, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NA),
            c(1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NA))
write.csv(t(kx), "krippendorff2011.csv", row.names = FALSE, na = "")
out$krippendorff2011 <- lapply(c(nominal = "nominal", ordinal = "ordinal", interval = "interval", ratio = "ratio"),
                               function(m) kripp.alpha(kx, m)$value)

# 3. A relevance panel: 12 items x 7 raters on Lynn's 4-point scale; essential ratings 1-3
set.seed(20)
p_rel <- c(.95, .9, .9, .85, .8, .75, .7, .6, .5, .4, .3, .2)
rel <- t(sapply(p_rel, function(p) ifelse(runif(7) < p, sample(3:4, 7, TRUE, c(.4, .6)), sample(1:2, 7, TRUE))))
colnames(rel) <- paste0("R", 1:7)
ess <- t(sapply(p_rel, function(p) ifelse(runif(7) < p, 3L, sample(1:2, 7, TRUE))))
colnames(ess) <- paste0("R", 1:7)
write.csv(data.frame(item = paste0("i", 1:12), rel), "relevance.csv", row.names = FALSE)
write.csv(data.frame(item = paste0("i", 1:12), ess), "essential.csv", row.names = FALSE)
va <- Vaiken(as.data.frame(rel), min = 1, max = 4, conf.level = .95)
va90 <- Vaiken(as.data.frame(rel), min = 1, max = 4, conf.level = .90)
kr <- CVI_R(as.data.frame(rel), cut = 3, conf.level = .95)
cv <- CVR(as.data.frame(ess))
out$relevance <- list(
  aiken_v = va$V, aiken_lower = va$lwr.ci, aiken_upper = va$upr.ci,
  aiken_lower90 = va90$lwr.ci, aiken_upper90 = va90$upr.ci, kappa = kr$CVIR,
  kripp_ordinal = kripp.alpha(t(rel), "ordinal")$value,
  kripp_interval = kripp.alpha(t(rel), "interval")$value,
  fleiss_dichotomous = kappam.fleiss(rel >= 3)$value,
  fleiss_dichotomous_z = kappam.fleiss(rel >= 3)$statistic[[1]],
  cvr = cv$CVR)
# Ayre & Scally (2014) exact critical values, N = 5..40, alpha = .05 one-tailed
out$cvr_critical <- do.call(rbind, lapply(5:40, function(n) { r <- CVRcut.Ayres(n, .05, "one"); r }))

# 4. A sort task: 12 items (intended subcategory s1..s4, three each) x 9 raters
set.seed(21)
intended <- rep(paste0("s", 1:4), each = 3)
q <- c(.9, .8, .4, .9, .7, .6, .85, .2, .9, .75, .55, .95)
srt <- t(sapply(seq_along(q), function(i) ifelse(runif(9) < q[i], intended[i],
                                                   sample(c(setdiff(paste0("s", 1:4), intended[i]), "none"), 9, TRUE))))
colnames(srt) <- paste0("R", 1:9)
write.csv(data.frame(item = paste0("i", 1:12), intended = intended, srt), "sort.csv", row.names = FALSE)
out$sort <- list(fleiss = kappam.fleiss(srt)$value, fleiss_z = kappam.fleiss(srt)$statistic[[1]],
                 kripp_nominal = kripp.alpha(t(matrix(as.integer(factor(srt)), nrow = 12)), "nominal")$value)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE, dataframe = "columns"), "reference.json")
