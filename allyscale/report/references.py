"""The works a report cites, and the reference list built from what its text actually cites.

Every section writes citations in APA style ("Author (Year)", "(Author & Author, Year)",
"Author et al., Year"). :func:`cited` finds them in a report's paragraphs and table notes;
:func:`reference_list` returns the full entries of exactly those works, so the list can
neither miss a cited work nor carry an uncited one. A citation without an entry here is
returned by :func:`missing` (the report flags it; the tests fail on it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["REFERENCES", "cited", "reference_list", "missing"]

#: (first author's surname, year) -> APA entry
REFERENCES: dict[tuple[str, str], str] = {
    ("Aiken", "1985"): "Aiken, L. R. (1985). Three coefficients for analyzing the reliability and validity of "
    "ratings. Educational and Psychological Measurement, 45, 131-142.",
    ("Anderson", "1991"): "Anderson, J. C., & Gerbing, D. W. (1991). Predicting the performance of measures in a "
    "confirmatory factor analysis with a pretest assessment of their substantive validities. "
    "Journal of Applied Psychology, 76, 732-740.",
    ("Asparouhov", "2009"): "Asparouhov, T., & Muthén, B. (2009). Exploratory structural equation modeling. "
    "Structural Equation Modeling, 16, 397-438.",
    ("Asparouhov", "2010"): "Asparouhov, T., & Muthén, B. (2010). Simple second order chi-square correction. "
    "Mplus technical appendix.",
    ("Ayre", "2014"): "Ayre, C., & Scally, A. J. (2014). Critical values for Lawshe's content validity ratio. "
    "Measurement and Evaluation in Counseling and Development, 47, 79-86.",
    ("Bentler", "2010"): "Bentler, P. M., & Satorra, A. (2010). Testing model nesting and equivalence. "
    "Psychological Methods, 15, 111-123.",
    ("Brosseau-Liard", "2014"): "Brosseau-Liard, P. E., & Savalei, V. (2014). Adjusting incremental fit indices "
    "for nonnormality. Multivariate Behavioral Research, 49, 460-470.",
    ("Browne", "2001"): "Browne, M. W. (2001). An overview of analytic rotation in exploratory factor analysis. "
    "Multivariate Behavioral Research, 36, 111-150.",
    ("Campbell", "1959"): "Campbell, D. T., & Fiske, D. W. (1959). Convergent and discriminant validation by the "
    "multitrait-multimethod matrix. Psychological Bulletin, 56, 81-105.",
    ("Chen", "2007"): "Chen, F. F. (2007). Sensitivity of goodness of fit indexes to lack of measurement invariance. "
    "Structural Equation Modeling, 14, 464-504.",
    ("Cheung", "2002"): "Cheung, G. W., & Rensvold, R. B. (2002). Evaluating goodness-of-fit indexes for testing "
    "measurement invariance. Structural Equation Modeling, 9, 233-255.",
    ("Cohen", "2003"): "Cohen, J., Cohen, P., West, S. G., & Aiken, L. S. (2003). Applied multiple "
    "regression/correlation analysis for the behavioral sciences (3rd ed.). Erlbaum.",
    ("Cronbach", "1951"): "Cronbach, L. J. (1951). Coefficient alpha and the internal structure of tests. "
    "Psychometrika, 16, 297-334.",
    ("Curran", "2016"): "Curran, P. G. (2016). Methods for the detection of carelessly invalid responses in survey "
    "data. Journal of Experimental Social Psychology, 66, 4-19.",
    ("Dunn", "2018"): "Dunn, A. M., Heggestad, E. D., Shanock, L. R., & Theilgard, N. (2018). Intra-individual "
    "response variability as an indicator of insufficient effort responding: Comparison to other "
    "indicators and relationships with individual differences. Journal of Business and "
    "Psychology, 33, 105-121.",
    ("Eid", "2003"): "Eid, M., Lischetzke, T., Nussbeck, F. W., & Trierweiler, L. I. (2003). Separating trait "
    "effects from trait-specific method effects in multitrait-multimethod models: A "
    "multiple-indicator CT-C(M-1) model. Psychological Methods, 8, 38-60.",
    ("Fleiss", "1971"): "Fleiss, J. L. (1971). Measuring nominal scale agreement among many raters. Psychological "
    "Bulletin, 76, 378-382.",
    ("Fornell", "1981"): "Fornell, C., & Larcker, D. F. (1981). Evaluating structural equation models with "
    "unobservable variables and measurement error. Journal of Marketing Research, 18, 39-50.",
    ("Green", "2009"): "Green, S. B., & Yang, Y. (2009). Reliability of summed item scores using structural "
    "equation modeling: An alternative to coefficient alpha. Psychometrika, 74, 155-167.",
    ("Hedges", "1981"): "Hedges, L. V. (1981). Distribution theory for Glass's estimator of effect size and related "
    "estimators. Journal of Educational Statistics, 6, 107-128.",
    ("Henseler", "2015"): "Henseler, J., Ringle, C. M., & Sarstedt, M. (2015). A new criterion for assessing "
    "discriminant validity in variance-based structural equation modeling. Journal of the "
    "Academy of Marketing Science, 43, 115-135.",
    ("Horn", "1965"): "Horn, J. L. (1965). A rationale and test for the number of factors in factor analysis. "
    "Psychometrika, 30, 179-185.",
    ("Hu", "1999"): "Hu, L., & Bentler, P. M. (1999). Cutoff criteria for fit indexes in covariance structure "
    "analysis: Conventional criteria versus new alternatives. Structural Equation Modeling, 6, 1-55.",
    ("Jacobson", "1991"): "Jacobson, N. S., & Truax, P. (1991). Clinical significance: A statistical approach to "
    "defining meaningful change in psychotherapy research. Journal of Consulting and Clinical "
    "Psychology, 59, 12-19.",
    ("Johnson", "2005"): "Johnson, J. A. (2005). Ascertaining the validity of individual protocols from Web-based "
    "personality inventories. Journal of Research in Personality, 39, 103-129.",
    ("Jorgensen", "2022"): "Jorgensen, T. D., Pornprasertmanit, S., Schoemann, A. M., & Rosseel, Y. (2022). "
    "semTools: Useful tools for structural equation modeling (R package version 0.5-6).",
    ("Kaiser", "1974"): "Kaiser, H. F. (1974). An index of factorial simplicity. Psychometrika, 39, 31-36.",
    ("Krippendorff", "2004"): "Krippendorff, K. (2004). Content analysis: An introduction to its methodology (2nd "
    "ed.). Sage.",
    ("Lawshe", "1975"): "Lawshe, C. H. (1975). A quantitative approach to content validity. Personnel Psychology, "
    "28, 563-575.",
    ("Leite", "2008"): "Leite, W. L., Huang, I.-C., & Marcoulides, G. A. (2008). Item selection for the "
    "development of short forms of scales using an ant colony optimization algorithm. "
    "Multivariate Behavioral Research, 43, 411-431.",
    ("Levy", "1967"): "Levy, P. (1967). The correction for spurious correlation in the evaluation of short-form "
    "tests. Journal of Clinical Psychology, 23, 84-86.",
    ("Little", "1988"): "Little, R. J. A. (1988). A test of missing completely at random for multivariate data with "
    "missing values. Journal of the American Statistical Association, 83, 1198-1202.",
    ("Lorenzo-Seva", "2006"): "Lorenzo-Seva, U., & ten Berge, J. M. F. (2006). Tucker's congruence coefficient as a "
    "meaningful index of factor similarity. Methodology, 2, 57-64.",
    ("Lynn", "1986"): "Lynn, M. R. (1986). Determination and quantification of content validity. Nursing Research, "
    "35, 382-385.",
    ("Marsh", "2014"): "Marsh, H. W., Morin, A. J. S., Parker, P. D., & Kaur, G. (2014). Exploratory structural "
    "equation modeling: An integration of the best features of exploratory and confirmatory factor analysis. "
    "Annual Review of Clinical Psychology, 10, 85-110.",
    ("McDonald", "1999"): "McDonald, R. P. (1999). Test theory: A unified treatment. Erlbaum.",
    ("McGraw", "1996"): "McGraw, K. O., & Wong, S. P. (1996). Forming inferences about some intraclass correlation "
    "coefficients. Psychological Methods, 1, 30-46.",
    ("McNeish", "2023"): "McNeish, D., & Wolf, M. G. (2023). Dynamic fit index cutoffs for confirmatory factor "
    "analysis models. Psychological Methods, 28, 61-88.",
    ("Morin", "2016"): "Morin, A. J. S., Arens, A. K., & Marsh, H. W. (2016). A bifactor exploratory structural "
    "equation modeling framework for the identification of distinct sources of construct-relevant "
    "psychometric multidimensionality. Structural Equation Modeling, 23, 116-139.",
    ("Meade", "2012"): "Meade, A. W., & Craig, S. B. (2012). Identifying careless responses in survey data. "
    "Psychological Methods, 17, 437-455.",
    ("Muthén", "2002"): "Muthén, L. K., & Muthén, B. O. (2002). How to use a Monte Carlo study to decide on sample "
    "size and determine power. Structural Equation Modeling, 9, 599-620.",
    ("Nunnally", "1994"): "Nunnally, J. C., & Bernstein, I. H. (1994). Psychometric theory (3rd ed.). McGraw-Hill.",
    ("Olaru", "2019"): "Olaru, G., Schroeders, U., Hartung, J., & Wilhelm, O. (2019). Ant colony optimization and "
    "local weighted structural equation modeling. A tutorial on novel item and person sampling "
    "procedures for personality research. European Journal of Personality, 33, 400-419.",
    ("Penfield", "2004"): "Penfield, R. D., & Giacobbi, P. R., Jr. (2004). Applying a score confidence interval to "
    "Aiken's item content-relevance index. Measurement in Physical Education and Exercise "
    "Science, 8, 213-225.",
    ("Polit", "2006"): "Polit, D. F., & Beck, C. T. (2006). The content validity index: Are you sure you know "
    "what's being reported? Critique and recommendations. Research in Nursing & Health, 29, "
    "489-497.",
    ("Polit", "2007"): "Polit, D. F., Beck, C. T., & Owen, S. V. (2007). Is the CVI an acceptable indicator of "
    "content validity? Appraisal and recommendations. Research in Nursing & Health, 30, 459-467.",
    ("Rao", "1973"): "Rao, C. R. (1973). Linear statistical inference and its applications (2nd ed.). Wiley.",
    ("Revelle", "2022"): "Revelle, W. (2022). psych: Procedures for psychological, psychometric, and personality "
    "research (Version 2.2.9).",
    ("Rhemtulla", "2012"): "Rhemtulla, M., Brosseau-Liard, P. E., & Savalei, V. (2012). When can categorical "
    "variables be treated as continuous? Psychological Methods, 17, 354-373.",
    ("Roemer", "2021"): "Roemer, E., Schuberth, F., & Henseler, J. (2021). HTMT2 - an improved criterion for "
    "assessing discriminant validity in structural equation modeling. Industrial Management & "
    "Data Systems, 121, 2637-2650.",
    ("Rosseel", "2012"): "Rosseel, Y. (2012). lavaan: An R package for structural equation modeling. Journal of "
    "Statistical Software, 48(2), 1-36.",
    ("Satorra", "2000"): "Satorra, A. (2000). Scaled and adjusted restricted tests in multi-sample analysis of "
    "moment structures. In R. D. H. Heijmans, D. S. G. Pollock, & A. Satorra (Eds.), "
    "Innovations in multivariate statistical analysis (pp. 233-247). Kluwer.",
    ("Satorra", "2001"): "Satorra, A., & Bentler, P. M. (2001). A scaled difference chi-square test statistic for "
    "moment structure analysis. Psychometrika, 66, 507-514.",
    ("Savalei", "2021"): "Savalei, V. (2021). Improving fit indices in structural equation modeling with "
    "categorical data. Multivariate Behavioral Research, 56, 390-407.",
    ("Schmid", "1957"): "Schmid, J., & Leiman, J. M. (1957). The development of hierarchical factor solutions. "
    "Psychometrika, 22, 53-61.",
    ("Shrout", "1979"): "Shrout, P. E., & Fleiss, J. L. (1979). Intraclass correlations: Uses in assessing rater "
    "reliability. Psychological Bulletin, 86, 420-428.",
    ("Steiger", "1997"): "Steiger, J. H., & Fouladi, R. T. (1997). Noncentrality interval estimation and the "
    "evaluation of statistical models. In L. L. Harlow, S. A. Mulaik, & J. H. Steiger (Eds.), "
    "What if there were no significance tests? (pp. 221-257). Erlbaum.",
    ("Spearman", "1904"): "Spearman, C. (1904). The proof and measurement of association between two things. "
    "American Journal of Psychology, 15, 72-101.",
    ("Takane", "1987"): "Takane, Y., & de Leeuw, J. (1987). On the relationship between item response theory and "
    "factor analysis of discretized variables. Psychometrika, 52, 393-408.",
    ("Velicer", "1976"): "Velicer, W. F. (1976). Determining the number of components from the matrix of partial "
    "correlations. Psychometrika, 41, 321-327.",
    ("Wu", "2016"): "Wu, H., & Estabrook, R. (2016). Identification of confirmatory factor analysis models of "
    "different levels of invariance for ordered categorical outcomes. Psychometrika, 81, 1014-1045.",
    ("Xia", "2019"): "Xia, Y., & Yang, Y. (2019). RMSEA, CFI, and TLI in structural equation modeling with ordered "
    "categorical data: The story they tell depends on the estimation methods. Behavior Research "
    "Methods, 51, 409-428.",
    ("Yuan", "2000"): "Yuan, K.-H., & Bentler, P. M. (2000). Three likelihood-based methods for mean and covariance "
    "structure analysis with nonnormal missing data. Sociological Methodology, 30, 165-200.",
    ("Zinbarg", "2005"): "Zinbarg, R. E., Revelle, W., Yovel, I., & Li, W. (2005). Cronbach's alpha, Revelle's beta, "
    "and McDonald's omega_H: Their relations with each other and two alternative "
    "conceptualizations of reliability. Psychometrika, 70, 123-133.",
    ("Zumbo", "2007"): "Zumbo, B. D., Gadermann, A. M., & Zeisser, C. (2007). Ordinal versions of coefficients "
    "alpha and theta for Likert rating scales. Journal of Modern Applied Statistical Methods, 6, "
    "21-29.",
}

_NAME = r"(?:[A-Z][a-zà-ÿ]*(?:[A-Z][a-zà-ÿ]+)?(?:-[A-Z][a-zà-ÿ]+)?|[a-z]{2,3} [A-Z][a-z]+)"
# "Author (1999)", "Author and Author (1999)", "Author et al. (1999)", "(Author, 1999", "Author & Author, 1999",
# "; Author, 1999", "Author's (1999)"
_CITE = re.compile(
    rf"(?P<first>{_NAME})(?:'s)?(?:,? (?:and|&) {_NAME}| et al\.)?(?:,? (?:and|&) {_NAME})?(?:'s)?"
    r"(?:,| \(|, \() ?(?P<year>(?:19|20)\d{2})[a-z]?\b"
)
_NOT_AUTHORS = {
    "Version",
    "Python",
    "NumPy",
    "SciPy",
    "lavaan",
    "Data",
    "Structure",
    "Fit",
    "Note",
    "Table",
    "Step",
    "Rows",
    "Group",
    "Items",
    "Model",
    "The",
    "In",
    "See",
    "N",
    "R",
    "Figure",
    "Level",
    "Total",
}


def cited(texts: Iterable[str]) -> set[tuple[str, str]]:
    """(first author's surname, year) of every citation in ``texts``."""
    out = set()
    for text in texts:
        for m in _CITE.finditer(text or ""):
            first = m.group("first")
            if first in _NOT_AUTHORS:
                continue
            name = first.split(" ")[-1] if first[0].islower() else first
            if "-" in name and (name, m.group("year")) not in REFERENCES:
                name = name.split("-")[0]  # "the Fornell-Larcker (1981) criterion" cites Fornell & Larcker
            out.add((name, m.group("year")))
    return out


def _in_extra(key: tuple[str, str], extra: Iterable[str]) -> bool:
    return any(e.startswith(key[0]) and f"({key[1]}" in e for e in extra)


def missing(texts: Iterable[str], extra: Iterable[str] = ()) -> list[tuple[str, str]]:
    """Citations in ``texts`` that have no entry in :data:`REFERENCES` (nor in ``extra``)."""
    extra = list(extra)
    return sorted(k for k in cited(texts) if k not in REFERENCES and not _in_extra(k, extra))


def reference_list(texts: Iterable[str], extra: Iterable[str] = ()) -> list[str]:
    """The APA entries of the works cited in ``texts`` (sorted), plus ``extra`` entries (e.g. a pool's source)."""
    keys = cited(texts)
    entries = [REFERENCES[k] for k in keys if k in REFERENCES]
    return sorted(set(entries) | set(extra), key=str.lower)
