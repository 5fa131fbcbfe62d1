"""The wording review (allyscale.wording): each rule on examples, the labelled set, the allyship pool."""

import sys
import textwrap

import pytest
from conftest import ROOT

from allyscale.errors import PoolError
from allyscale.pool import parse_pool
from allyscale.wording import (
    RULES,
    SOURCES,
    absolutes,
    double_barreled_reason,
    inner_state_reason,
    jargon_terms,
    review_wording,
    similarity,
)


def pool_of(items: str, extra: str = "") -> object:
    return parse_pool(
        textwrap.dedent("""
    name: t
    response_scale: {min: 1, max: 5}
    forms: {informant: {label: Informant}}
    factors:
      - id: f1
        facets:
          - id: c1
            items:
    """)
        + textwrap.indent(textwrap.dedent(items), " " * 14)
        + extra
    )


@pytest.mark.parametrize(
    "text, flagged",
    [
        ("I listen and I donate money.", True),
        ("I read and share articles by people of color.", True),
        ("This person listens, but they rarely act.", True),
        ("I talk about racism with my friends and family.", False),
        ("I vote in local or national elections.", False),
    ],
)
def test_double_barreled_joins_clauses_or_actions_not_objects(text, flagged):
    assert bool(double_barreled_reason(text)) is flagged


@pytest.mark.parametrize(
    "text, flagged",
    [
        ("This person believes every life has the same worth.", True),
        ("This person knows that being White gives them advantages.", True),
        ("This person thinks racism ended long ago.", True),
        ("This person is aware of their own biases.", True),
        ("This person sees allyship as a lifelong effort.", True),
        ("This person posts about racism mainly to look good.", True),
        ("This person's support is the same in private as in public.", True),
        ("This person says that being White gives them advantages.", False),
        ("This person admits that they have a lot to learn.", False),
        ("I feel safe with this person.", False),
        ("This person speaks plainly, even when the topic feels awkward.", False),
        ("This person shares books with people they know.", False),
        ("This person steps in when they see police treating someone unfairly.", False),
        ("This person respects my values.", False),
        ("This person takes my doubts seriously.", False),
        ("This person values my culture.", True),
        ("This person keeps an open mind.", True),
    ],
)
def test_inner_state_rule(text, flagged):
    assert bool(inner_state_reason(text)) is flagged, inner_state_reason(text)


def test_absolutes_jargon_and_similarity():
    assert absolutes("I always help everyone, not at all reluctantly.") == ["always", "everyone"]
    assert jargon_terms("I call out microaggressions and tone policing.") == ["microaggressions", "tone policing"]
    assert jargon_terms("I call out small insults.") == []
    assert similarity("I speak up about racism at work.", "I speak up about racism at my work.") == 1.0
    assert similarity("I vote in elections.", "I read history books.") == 0.0


def test_every_rule_fires_with_its_reason_and_source():
    pool = pool_of("""
    - {id: x1, text: "I never fail to speak up.", informant_text: "This person never fails to speak up."}
    - {id: x2, text: "I listen and I donate money.", informant_text: "This person believes in fairness."}
    - {id: x3, text: "I do not laugh at jokes about race.", informant_text: "This person laughs at race jokes.",
       reverse: true}
    - {id: x4, text: "I call out microaggressions at work.", informant_text: "This person calls out microaggressions."}
    - {id: x5, text: "I call out microaggressions at my work.", informant_text: "This person names small insults."}
    - {id: x6, text: "I always treat everyone with respect.", informant_text: "This person treats people with respect."}
    """)
    found = {(f.item, f.rule, f.form): f for f in review_wording(pool)}
    assert ("x1", "double_negative", "self") in found and found[("x1", "double_negative", "self")].severity == "error"
    assert ("x2", "double_barreled", "self") in found
    assert ("x2", "inner_state", "informant") in found and ("x2", "inner_state", "self") not in found
    assert ("x3", "negation", "self") in found
    assert ("x4", "jargon", "self") in found
    assert ("x5", "near_duplicate", "self") in found or ("x5", "duplicate", "self") in found
    assert ("x6", "absolute", "self") in found
    for f in found.values():
        assert f.source == SOURCES[f.rule] and f.message
    assert set(SOURCES) == set(RULES)


def test_near_duplicates_only_within_a_facet():
    pool = parse_pool(
        textwrap.dedent("""
    name: t
    response_scale: {min: 1, max: 5}
    factors:
      - id: f1
        facets:
          - id: a
            items:
              - {id: a1, text: "I speak up about racism at work."}
              - {id: a2, text: "When I am at work, I speak up about racism."}
              - {id: a3, text: "I read books."}
          - id: b
            items:
              - {id: b1, text: "I speak up about racism at school quickly."}
              - {id: b2, text: "I vote."}
              - {id: b3, text: "I donate.", reverse: true}
    """)
    )
    near = [(f.item, f.message) for f in review_wording(pool) if f.rule == "near_duplicate"]
    assert [i for i, _ in near] == ["a2"] and "a1" in near[0][1]


def test_reverse_balance_per_factor():
    pool = pool_of("""
    - {id: x1, text: "I help.", informant_text: "This person helps."}
    - {id: x2, text: "I ask.", informant_text: "This person asks."}
    - {id: x3, text: "I give.", informant_text: "This person gives.", reverse: true}
    - {id: x4, text: "I vote.", informant_text: "This person votes."}
    """)
    bal = [f for f in review_wording(pool) if f.rule == "reverse_balance"]
    assert len(bal) == 1 and "1 of 4 items reverse-keyed (25%)" in bal[0].message and bal[0].severity == "note"


def test_keep_documents_a_reviewed_flag():
    pool = pool_of("""
    - id: x1
      text: "I believe in fairness."
      informant_text: "This person believes in fairness."
      keep: {inner_state: "the construct is a belief"}
    - {id: x2, text: "I ask.", informant_text: "This person asks."}
    - {id: x3, text: "I give.", informant_text: "This person gives.", reverse: true}
    """)
    f = [f for f in review_wording(pool) if f.rule == "inner_state"]
    assert len(f) == 1 and f[0].severity == "accepted" and "kept: the construct is a belief" in f[0].message


@pytest.mark.parametrize(
    "keep, match",
    [
        ("{inner_sate: why}", "unknown wording rule 'inner_sate'"),
        ("{inner_state: ''}", "must be non-empty text"),
        ("[inner_state]", "must map wording rules to reasons"),
    ],
)
def test_bad_keep_is_a_pool_error(keep, match):
    with pytest.raises(PoolError, match=match):
        pool_of(f"""
        - {{id: x1, text: "I help.", keep: {keep}}}
        - {{id: x2, text: "I ask."}}
        """)


def test_labelled_set_error_rates():
    """The rates reported in docs/content_validity.md (benchmarks/wording_rules.py) hold."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from wording_rules import evaluate

    tab = evaluate()
    assert tab.loc["inner_state", "items"] == 126 and tab.loc["inner_state", "flagged (truth)"] == 40
    assert tab.loc["inner_state", "false neg"] == 0 and tab.loc["inner_state", "false pos"] == 1
    for rule in ("double_barreled", "negation", "double_negative", "absolute", "jargon"):
        assert tab.loc[rule, "false pos"] == 0 and tab.loc[rule, "false neg"] == 0, rule


def test_allyship_informant_form_reports_inner_states_only_as_reviewed(allyship_pool):
    """The shipped pool: no open inner-state flag; the one kept wording carries its reason."""
    inner = [f for f in allyship_pool.check() if f.rule == "inner_state"]
    assert [(f.item, f.severity) for f in inner] == [("aw_slf4", "accepted")]


def test_original_allyship_informant_wording_is_flagged():
    """The informant wordings as first written (allyship 0.1.0): the rule finds the inner-state items."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from wording_labels import ORIGINAL_INFORMANT

    flagged = {iid for iid, (text, _) in ORIGINAL_INFORMANT.items() if inner_state_reason(text)}
    labelled = {iid for iid, (_, lab) in ORIGINAL_INFORMANT.items() if lab}
    assert flagged == labelled and len(flagged) == 32
    assert {"tr_hmn1", "tr_dif3", "aw_prv1", "kn_opp5", "aw_slf1"} <= flagged


def test_cli_pool_check_reports_forms_and_sources():
    from click.testing import CliRunner

    from allyscale.cli import main

    out = CliRunner().invoke(main, ["pool", "check", str(ROOT / "item_pools" / "allyship.yaml")]).output
    assert "[accepted] aw_slf4 (informant): inner_state:" in out
    assert "rule sources:" in out and "Vazire (2010)" in out
