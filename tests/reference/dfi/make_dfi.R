# Misspecification levels of the dynamic fit index cutoffs, as the R package `dynamic`
# (Wolf & McNeish) builds them: its internal functions DGM_Multi_HB / DGM_one applied
# to lavaan standardized solutions and to manual models.
# Usage: Rscript make_dfi.R <path to dynamic's R/helper.R>   (github melissagwolf/dynamic)
# Writes misspecifications.json next to this script. R 4.2, lavaan 0.6.14, dplyr, tidyr, purrr.
args <- commandArgs(trailingOnly = TRUE)
suppressMessages({library(lavaan); library(dplyr); library(tidyr); library(purrr); library(jsonlite)})
env <- new.env()
# dplyr < 1.1 has no reframe(); every reframe() these functions use returns one row per
# group, which summarise() does identically
src <- gsub("dplyr::reframe", "dplyr::summarise", readLines(args[1]), fixed = TRUE)
eval(parse(text = src), envir = env)
here <- dirname(normalizePath(sub("--file=", "", grep("--file=", commandArgs(), value = TRUE))))
hs <- read.csv(file.path(here, "..", "hs", "data.csv"))
fit <- cfa(readLines(file.path(here, "..", "hs", "model.lav")) |> paste(collapse = "\n"), data = hs)
set.seed(1)
mod_hs <- env$cfa_lavmod(fit)
multi <- function(m) { set.seed(1); lapply(env$DGM_Multi_HB(m), function(x) x[-1]) }
one <- function(m) lapply(env$DGM_one(m), function(x) x[-1])
four <- "F1 =~ .71*a1 + .62*a2 + .55*a3 + .80*a4
F2 =~ .65*b1 + .58*b2 + .77*b3
F3 =~ .70*c1 + .52*c2
F4 =~ .66*d1 + .74*d2 + .49*d3 + .81*d4
F1 ~~ .40*F2
F1 ~~ .30*F3
F1 ~~ .20*F4
F2 ~~ .50*F3
F2 ~~ .35*F4
F3 ~~ .25*F4"
one6 <- "F1 =~ .602*Y1 + .805*Y2 + .857*Y3 + .631*Y4 + .345*Y5 + .646*Y6"
one9 <- "F1 =~ .70*Y1 + .61*Y2 + .55*Y3 + .72*Y4 + .48*Y5 + .66*Y6 + .59*Y7 + .77*Y8 + .63*Y9
Y8 ~~ .2*Y9"
out <- list(
  hs = list(model = mod_hs, levels = multi(mod_hs)),
  four = list(model = four, levels = multi(four)),
  one6 = list(model = one6, levels = one(one6)),
  one9 = list(model = one9, levels = one(one9)),
  versions = list(lavaan = as.character(packageVersion("lavaan")), R = R.version.string)
)
write_json(out, file.path(here, "misspecifications.json"), auto_unbox = TRUE, pretty = TRUE, digits = NA)
