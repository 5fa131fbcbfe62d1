# Reference for allyscale.describe_items: psych::describe (type 3 skew/kurtosis) on the sim60 items.
# R 4.2.2, psych 2.2.9.  Run from this folder: Rscript make_describe.R
library(psych)
library(jsonlite)
d <- read.csv("data.csv")
X <- d[, grep("^i", names(d))]
s <- psych::describe(X)
out <- list(psych = as.character(packageVersion("psych")),
            items = names(X), mean = s$mean, sd = s$sd, median = s$median,
            skew = s$skew, kurtosis = s$kurtosis)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE), "describe.json")
