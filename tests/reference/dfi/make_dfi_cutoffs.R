# Dynamic fit index cutoffs for the Holzinger-Swineford 3-factor model (N = 301, ML), by
# the procedure of dynamic::cfaHB with lavaan only: population = the standardized solution
# rounded to 4 decimals (dynamic:::cfa_lavmod), levels = the cross-loadings of
# misspecifications.json (dynamic:::DGM_Multi_HB), 500 samples per level drawn with
# lavaan::simulateData(standardized = TRUE) (dynamic uses simstandard, not installed here),
# fitted with cfa(std.lv = TRUE); cutoff rule as in cfaHB's loop (quantiles .05..1 of the
# misspecified SRMR/RMSEA not below the correct model's 95th percentile, CFI mirrored).
# Writes cutoffs_hs.json. R 4.2, lavaan 0.6.14.
suppressMessages({library(lavaan); library(jsonlite)})
here <- dirname(normalizePath(sub("--file=", "", grep("--file=", commandArgs(), value = TRUE))))
ref <- fromJSON(file.path(here, "misspecifications.json"), simplifyVector = FALSE)
hs <- read.csv(file.path(here, "..", "hs", "data.csv"))
model <- paste(readLines(file.path(here, "..", "hs", "model.lav")), collapse = "\n")
fit <- cfa(model, data = hs)
pop <- gsub(" \\* ", "*", ref$hs$model)
levels <- list(character(0), unlist(ref$hs$levels[[1]]), unlist(ref$hs$levels[[2]]))
set.seed(269854)
reps <- 500
sims <- lapply(seq_along(levels), function(k) {
  m <- paste(c(pop, gsub(" \\* ", "*", levels[[k]])), collapse = "\n")
  t(sapply(seq_len(reps), function(r) {
    d <- simulateData(m, sample.nobs = 301, standardized = TRUE)
    f <- cfa(model, data = d, std.lv = TRUE, se = "none")
    fitMeasures(f, c("srmr", "rmsea", "cfi"))
  }))
})
true <- sims[[1]]
rule <- function(mis, true, idx) {
  power <- round(seq(0.95, 0, -0.01), 2)
  if (idx == "cfi") { q <- quantile(mis[, idx], power); ok <- q <= quantile(true[, idx], 0.05) }
  else { q <- quantile(mis[, idx], 1 - power); ok <- q >= quantile(true[, idx], 0.95) }
  k <- which(ok)[1]
  if (is.na(k) || power[k] < 0.5) return(list(cut = NA, power = if (is.na(k)) 0 else power[k]))
  list(cut = unname(q[k]), power = power[k])
}
out <- list(level0 = list(srmr = unname(quantile(true[, "srmr"], .95)), rmsea = unname(quantile(true[, "rmsea"], .95)),
                          cfi = unname(quantile(true[, "cfi"], .05))))
for (k in 2:3) out[[paste0("level", k - 1)]] <- lapply(c(srmr = "srmr", rmsea = "rmsea", cfi = "cfi"),
                                                        function(i) rule(sims[[k]], true, i))
out$fitted <- as.list(fitMeasures(fit, c("srmr", "rmsea", "cfi")))
out$reps <- reps
write_json(out, file.path(here, "cutoffs_hs.json"), auto_unbox = TRUE, pretty = TRUE, digits = NA)
