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
