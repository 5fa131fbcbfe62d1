import numpy as np
import pytest

from allyscale.errors import ModelSyntaxError
from allyscale.syntax import lavaanify, model_variables, parse_model

HS = """visual =~ x1 + x2 + x3
textual =~ x4 + x5 + x6
speed =~ x7 + x8 + x9
"""


def test_parse_modifiers_and_comments():
    stmts = parse_model("""
    # a comment
    f =~ 0.7*a + NA*b + lab*c + start(0.4)*d   ! another
    a ~~ 0.3*b; f ~ 1
    a | -1.3*t1 + 0.2*t2
    """)
    by_rhs = {(s.lhs, s.op, s.rhs): s.modifier.for_group(0) for s in stmts}
    assert by_rhs[("f", "=~", "a")] == (0.7, False, None, None)
    assert by_rhs[("f", "=~", "b")] == (None, True, None, None)
    assert by_rhs[("f", "=~", "c")] == (None, False, "lab", None)
    assert by_rhs[("f", "=~", "d")] == (None, False, None, 0.4)
    assert by_rhs[("a", "~~", "b")][0] == 0.3
    assert ("f", "~1", "") in by_rhs
    assert by_rhs[("a", "|", "t1")][0] == -1.3
    assert by_rhs[("a", "|", "t2")][0] == 0.2


def test_continuation_lines_join():
    stmts = parse_model("f =~ a + b +\n     c\n  + d")
    assert [s.rhs for s in stmts] == ["a", "b", "c", "d"]


def test_lavaanify_matches_lavaan_partable_for_hs():
    # lavaan: parTable(cfa(HS.model, data = HolzingerSwineford1939)) has 24 rows, 21 free
    pt = lavaanify(HS)
    assert len(pt) == 24
    assert pt["free"].max() == 21
    markers = pt[(pt.op == "=~") & (pt.free == 0)]
    assert list(markers.rhs) == ["x1", "x4", "x7"]
    np.testing.assert_array_equal(markers.ustart.to_numpy(), [1.0, 1.0, 1.0])
    covs = pt[(pt.op == "~~") & (pt.lhs != pt.rhs)]
    assert list(zip(covs.lhs, covs.rhs)) == [("visual", "textual"), ("visual", "speed"), ("textual", "speed")]


def test_lavaanify_std_lv_frees_loadings_and_fixes_variances():
    pt = lavaanify(HS, std_lv=True)
    assert (pt[pt.op == "=~"].free > 0).all()
    lv_var = pt[(pt.op == "~~") & (pt.lhs == pt.rhs) & pt.lhs.isin(["visual", "textual", "speed"])]
    assert (lv_var.free == 0).all() and (lv_var.ustart == 1).all()


def test_group_equal_loadings_share_free_numbers():
    pt = lavaanify(HS, ngroups=2, group_equal=["loadings"])
    l1 = pt[(pt.op == "=~") & (pt.group == 1) & (pt.free > 0)].free.to_numpy()
    l2 = pt[(pt.op == "=~") & (pt.group == 2) & (pt.free > 0)].free.to_numpy()
    np.testing.assert_array_equal(l1, l2)
    # lavaan: configural 2-group HS has 42 free parameters (without mean structure); metric frees 6 fewer
    assert lavaanify(HS, ngroups=2).free.max() == 42
    assert pt.free.max() == 36


def test_second_order_latent_indicators():
    obs, lat = model_variables(parse_model("g =~ f1 + f2 + f3\nf1 =~ a+b\nf2 =~ c+d\nf3 =~ e+f"))
    assert lat == ["g", "f1", "f2", "f3"]
    assert obs == ["a", "b", "c", "d", "e", "f"]


@pytest.mark.parametrize(
    "bad, fragment",
    [
        ("f =~ ", "nothing on the right"),
        ("f x1 + x2", "no operator"),
        ("f =~ x1 + 2bad", "not a valid variable name"),
        ("a := b*c", "not supported"),
        ("f =~ x1 + x1", "specified twice"),
        ("", "empty"),
    ],
)
def test_bad_syntax_names_the_problem(bad, fragment):
    with pytest.raises(ModelSyntaxError, match=fragment):
        lavaanify(bad)


def test_c_modifier_length_must_match_groups():
    with pytest.raises(ModelSyntaxError, match="2 values but there are 3 group"):
        lavaanify("f =~ x1 + c(a, b)*x2 + x3", ngroups=3)


# ---------------------------------------------------------------- lavaan's syntax rules
# tests/reference/syntax_rules/make.R: lavaan 0.6.14 cfa() on HolzingerSwineford1939
import warnings  # noqa: E402

import pandas as pd  # noqa: E402
from conftest import REFERENCE, reference_json  # noqa: E402
from numpy.testing import assert_allclose  # noqa: E402

RULES = reference_json("syntax_rules")
HS_DATA = REFERENCE / "hs" / "data.csv"


def _lavaan_table(case: str) -> pd.DataFrame:
    return pd.DataFrame(RULES[case]["partable"])


def _fit_like_lavaan(case: str, **options):
    from allyscale import cfa

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = cfa(pd.read_csv(HS_DATA), RULES[case]["model"], estimator="ML", **options)
    ref = pd.DataFrame(RULES[case]["estimates"]).set_index(["lhs", "op", "rhs"])
    est = fit.estimates.set_index(["lhs", "op", "rhs"]).loc[ref.index]
    return fit, est, ref


@pytest.mark.parametrize(
    "case, std_lv",
    [("single_indicator", False), ("single_indicator_std_lv", True), ("single_indicator_user_var", False)],
)
def test_single_indicator_factor_fixes_its_residual_variance_as_lavaan(case, std_lv):
    pt = lavaanify(RULES[case]["model"], std_lv=std_lv)
    ref = _lavaan_table(case).set_index(["lhs", "op", "rhs"])
    mine = pt.set_index(["lhs", "op", "rhs"]).loc[ref.index]
    assert (mine["free"] > 0).tolist() == (ref["free"] > 0).tolist()
    fixed = ref["free"] == 0
    assert_allclose(mine.loc[fixed, "ustart"].to_numpy(float), ref.loc[fixed, "ustart"].to_numpy(float))
    fit, est, lav = _fit_like_lavaan(case, std_lv=std_lv)
    assert fit.converged
    assert_allclose(est["est"].to_numpy(), lav["est"].to_numpy(), rtol=1e-4, atol=1e-5)
    free = lav["se"] > 0
    assert_allclose(est.loc[free, "se"].to_numpy(), lav.loc[free, "se"].to_numpy(), rtol=1e-3, atol=1e-5)
    assert_allclose(fit.fit_measures["chisq"], RULES[case]["fit"]["chisq"], rtol=1e-5)
    assert fit.fit_measures["df"] == RULES[case]["fit"]["df"]


def test_single_indicator_of_two_factors_is_not_fixed():
    # lavaan fixes only an indicator that loads on no other factor
    pt = lavaanify(RULES["single_indicator_shared"]["model"])
    row = pt[(pt.lhs == "x3") & (pt.op == "~~")].iloc[0]
    assert row["free"] > 0


def test_label_shared_by_fixed_and_free_rows_fixes_both_as_lavaan():
    case = "fixed_free_label"
    pt = lavaanify(RULES[case]["model"])
    ref = _lavaan_table(case)
    assert pt[["lhs", "op", "rhs", "free"]].values.tolist() == ref[["lhs", "op", "rhs", "free"]].values.tolist()
    assert pt.loc[(pt.op == "=~") & (pt.rhs == "x2"), "ustart"].item() == 1.0
    fit, est, lav = _fit_like_lavaan(case)
    assert_allclose(est["est"].to_numpy(), lav["est"].to_numpy(), rtol=1e-4, atol=1e-5)
    assert_allclose(fit.fit_measures["chisq"], RULES[case]["fit"]["chisq"], rtol=1e-5)
    assert fit.fit_measures["df"] == RULES[case]["fit"]["df"] == 3


def test_free_label_across_factors_is_one_parameter_as_lavaan():
    case = "free_free_label"
    fit, est, lav = _fit_like_lavaan(case)
    assert_allclose(est["est"].to_numpy(), lav["est"].to_numpy(), rtol=1e-4, atol=1e-5)
    assert fit.fit_measures["df"] == RULES[case]["fit"]["df"]


def test_fixed_rows_of_one_label_with_different_values_are_refused():
    from allyscale.syntax import Modifier, Statement

    statements = [
        Statement("f", "=~", "x1", Modifier(label=("a",))),  # the marker: fixed to 1
        Statement("f", "=~", "x2", Modifier(fixed=(0.5,), free=(False,), label=("a",))),
        Statement("f", "=~", "x3"),
    ]
    with pytest.raises(ModelSyntaxError, match="label 'a': equality constraints involve fixed parameters"):
        lavaanify(statements)


@pytest.mark.parametrize("term", ["0.5*a*x2", "a*0.5*x2"])
def test_value_and_label_on_one_term_is_refused(term):
    # lavaan 0.6.14 keeps the label and silently drops the value (x2 free, labelled a)
    with pytest.raises(ModelSyntaxError, match="both a fixed value and a label"):
        parse_model(f"f =~ x1 + {term} + x3")
    assert parse_model("f =~ x1 + NA*x2 + a*x3")  # free, or labelled, are fine


@pytest.mark.parametrize("case", ["duplicate_variance", "duplicate_covariance", "duplicate_loading"])
def test_duplicate_elements_are_refused_with_lavaans_message(case):
    lavaan_message = RULES[case]["error"].replace("lavaan ERROR: ", "")
    with pytest.raises(ModelSyntaxError) as err:
        parse_model(RULES[case]["model"])
    assert lavaan_message in str(err.value)


def test_factor_measured_by_itself_is_refused_with_lavaans_message():
    lavaan_message = RULES["self_measured"]["error"].replace("lavaan ERROR: ", "")
    with pytest.raises(ModelSyntaxError, match=lavaan_message.replace("`", ".")):
        parse_model(RULES["self_measured"]["model"])


@pytest.mark.parametrize("case", ["cycle_loadings", "cycle_regressions"])
def test_cycles_are_refused(case):
    # lavaan accepts the syntax but cannot estimate it (the reference records its warning)
    assert RULES[case]["accepted"] is None and RULES[case]["warning"]
    with pytest.raises(ModelSyntaxError, match=r"f1 -> f2 -> f1 form a cycle"):
        lavaanify(RULES[case]["model"])


def test_cycle_through_the_cli_is_an_error_not_an_internal_error(tmp_path):
    from click.testing import CliRunner

    from allyscale.cli import main

    model = tmp_path / "m.lav"
    model.write_text(RULES["cycle_loadings"]["model"])
    result = CliRunner().invoke(main, ["cfa", str(HS_DATA), "--model", str(model)])
    assert result.exit_code == 2 and result.stderr.startswith("error: ")
    assert "form a cycle" in result.stderr and "internal error" not in result.stderr


def test_lavaan_drops_the_value_of_a_labelled_term():
    # the reason for the refusal above, as lavaan 0.6.14 records it: x2 free, labelled a, no value
    pt = _lavaan_table("value_and_label")
    row = pt[(pt.op == "=~") & (pt.rhs == "x2")].iloc[0]
    assert row["free"] > 0 and row["label"] == "a" and pd.isna(row["ustart"])


def test_single_ordinal_indicator_needs_its_loading_and_variance_fixed():
    # lavaan fits the free version but cannot compute standard errors (not identified): refused
    assert RULES["single_ordinal"]["accepted"] is None and "information matrix" in RULES["single_ordinal"]["warning"]
    items = ["x1", "x2", "x3", "x4"]
    with pytest.raises(ModelSyntaxError, match="factor 'textual' has one indicator, 'x4', which is ordinal"):
        lavaanify(RULES["single_ordinal"]["model"], ordered=items)
    from allyscale import cfa

    data = pd.read_csv(REFERENCE / "syntax_rules" / "ordinal.csv")
    case = RULES["single_ordinal_fixed"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = cfa(data, case["model"], estimator="WLSMV", ordered=items)
    ref = pd.DataFrame(case["estimates"]).set_index(["lhs", "op", "rhs"])
    est = fit.estimates.set_index(["lhs", "op", "rhs"])
    common = [i for i in ref.index if i in est.index and i[1] in ("=~", "~~", "|")]
    assert len(common) >= 12
    assert_allclose(
        est.loc[common, "est"].to_numpy(float), ref.loc[common, "est"].to_numpy(float), rtol=1e-4, atol=1e-5
    )
    assert_allclose(fit.fit_measures["chisq"], case["fit"]["chisq"], rtol=1e-4)
    assert fit.fit_measures["df"] == case["fit"]["df"]
