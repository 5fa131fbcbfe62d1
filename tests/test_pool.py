import textwrap

import pytest
import semopy

from allyscale import load_pool
from allyscale.errors import PoolError
from allyscale.pool import STRUCTURES, parse_pool

FRAMEWORK = {
    "Building trust": [
        "Practice empathy",
        "Practice humility",
        "Recognize common humanity",
        "Recognize differences",
        "Respect boundaries",
    ],
    "Engaging in antiracist action": [
        "Stand up regardless of consequences",
        "Use privilege as a tool",
        "Share resources",
        "Work within the system",
    ],
    "Critical awareness": [
        "Awareness of self",
        "Awareness of privilege",
        "Critically consume information",
        "Challenge racist socialization",
    ],
    "Sociopolitical knowledge": ["Cultural knowledge", "Knowledge of oppression"],
    "Accountability": ["Perseverance", "Collaboration", "Receptive to feedback"],
    "Communicating and disseminating information": ["Effective communication skills", "Engage others"],
}


def test_allyship_pool_has_the_framework_structure(allyship_pool):
    pool = allyship_pool
    assert {f.label: [fc.label for fc in f.facets] for f in pool.factors} == FRAMEWORK
    assert len(pool.facets) == 20
    for fc in pool.facets:
        assert len(fc.items) >= 5, fc.label
    assert len(pool.items) >= 100
    for it in pool.items:
        assert it.text and it.informant_text, it.id
        assert it.text != it.informant_text, it.id
        assert it.facet is not None and it.factor
    for f in pool.factors:
        assert any(it.reverse for it in f.items), f.id
    assert pool.core is not None and pool.core["label"] == "Committing fully to allyship"
    assert pool.scale.n_categories >= 5 and len(pool.scale.labels) == pool.scale.n_categories
    assert {"self", "informant"} <= set(pool.forms)


def test_allyship_items_follow_item_writing_rules(allyship_pool):
    findings = allyship_pool.check()
    rules = {f.rule for f in findings}
    # hard rules: no double negatives, no duplicates, no item over 20 words, informant wording everywhere
    assert not rules & {"double_negative", "duplicate", "long", "no_informant", "no_reverse", "few_items"}
    # no double-barreled item, no near-duplicate within a facet, and every informant item about an inner
    # state of the rated person is either reworded or kept with a documented reason
    open_flags = {f.rule for f in findings if f.severity != "accepted"}
    assert not open_flags & {"double_barreled", "near_duplicate", "inner_state", "readability"}


def test_item_attributes_are_flat_and_linked(mini_pool):
    items = mini_pool.items
    assert [i.id for i in items][:3] == ["a1", "a2", "a3"]
    a3 = mini_pool.item("a3")
    assert a3.reverse and a3.factor == "fa" and a3.facet == "fa1"
    assert a3.informant_text.startswith("This person")
    assert mini_pool.factors[0].facets[1].items[0].id == "a4"
    assert mini_pool.reverse_items == ["a3", "b3", "c3"]


@pytest.mark.parametrize("structure", STRUCTURES)
def test_every_structure_parses_in_semopy_and_uses_every_item(mini_pool, structure):
    syntax = mini_pool.model_syntax(structure)
    model = semopy.Model(syntax)
    assert set(model.vars["observed"]) == set(mini_pool.item_ids)


@pytest.mark.parametrize("structure", STRUCTURES)
def test_allyship_structures_parse_in_semopy(allyship_pool, structure):
    model = semopy.Model(allyship_pool.model_syntax(structure))
    assert set(model.vars["observed"]) == set(allyship_pool.item_ids)
    latent = set(model.vars["latent"])
    expected = {
        "one_factor": {"commitment"},
        "correlated": {f.id for f in allyship_pool.factors},
        "second_order": {f.id for f in allyship_pool.factors} | {"commitment"},
        "bifactor": {f.id for f in allyship_pool.factors} | {"commitment"},
        "facets": {fc.id for fc in allyship_pool.facets},
    }[structure]
    assert latent == expected


def test_bifactor_is_orthogonal(mini_pool):
    syntax = mini_pool.model_syntax("bifactor")
    for f in ("fa", "fb", "fc"):
        assert f"general ~~ 0*{f}" in syntax
    assert "fa ~~ 0*fb" in syntax


def _write(tmp_path, text, name="pool.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


BASE = """
name: t
response_scale: {min: 1, max: 5}
factors:
  - id: f1
    items:
      - {id: x1, text: "I listen."}
      - {id: x2, text: "I ask."}
"""


def test_duplicate_item_id_names_file_and_id(tmp_path):
    path = _write(tmp_path, BASE.replace('{id: x2, text: "I ask."}', '{id: x1, text: "I ask."}'))
    with pytest.raises(PoolError, match=r"pool\.yaml: duplicate id 'x1'"):
        load_pool(path)


def test_unsafe_yaml_is_rejected_not_executed(tmp_path):
    marker = tmp_path / "executed"
    path = _write(tmp_path, BASE + f"notes: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(PoolError, match=r"pool\.yaml: unsafe or unsupported YAML tag at line \d+"):
        load_pool(path)
    assert not marker.exists()


def test_unknown_key_names_key_and_item(tmp_path):
    path = _write(tmp_path, BASE.replace('{id: x2, text: "I ask."}', '{id: x2, text: "I ask.", revrse: true}'))
    with pytest.raises(PoolError, match=r"unknown key\(s\) \['revrse'\] in item 'x2'"):
        load_pool(path)


def test_empty_factor(tmp_path):
    path = _write(tmp_path, BASE + "  - id: f2\n    items: []\n")
    with pytest.raises(PoolError, match=r"factor 'f2' is empty"):
        load_pool(path)


@pytest.mark.parametrize(
    "scale, fragment",
    [
        ("{min: 5, max: 1}", "max \\(1\\) must exceed min \\(5\\)"),
        ("{min: 1, max: 1.5}", "must be integers"),
        ("{min: 1, max: 5, labels: {7: Always}}", "label key 7 is not a point of 1..5"),
        ("{min: 0, max: 20}", "at most 11"),
    ],
)
def test_bad_response_scale(tmp_path, scale, fragment):
    path = _write(tmp_path, BASE.replace("{min: 1, max: 5}", scale))
    with pytest.raises(PoolError, match=fragment):
        load_pool(path)


def test_duplicate_yaml_key_is_an_error(tmp_path):
    path = _write(tmp_path, BASE + "name: again\n")
    with pytest.raises(PoolError, match=r"duplicate key 'name'"):
        load_pool(path)


def test_missing_file():
    with pytest.raises(PoolError, match="nope.yaml: file not found"):
        load_pool("nope.yaml")


def test_pool_without_facets_refuses_facet_model():
    pool = parse_pool(textwrap.dedent(BASE))
    assert pool.model_syntax("one_factor") == "general =~ x1 + x2\n"
    with pytest.raises(PoolError, match="has no facets"):
        pool.model_syntax("facets")
    with pytest.raises(PoolError, match="unknown structure 'sixfactor'"):
        pool.model_syntax("sixfactor")


def test_item_writing_checks_flag_each_rule():
    pool = parse_pool(
        textwrap.dedent("""
    name: t
    response_scale: {min: 1, max: 5}
    forms: {informant: {label: Informant}}
    factors:
      - id: f1
        items:
          - {id: x1, text: "I never fail to not interrupt people who speak to me."}
          - {id: x2, text: "I listen and I donate money to causes that matter to communities of color in my city and my state every single year."}
          - {id: x3, text: "I listen."}
          - {id: x4, text: "I listen."}
    """)
    )
    found = {(f.item, f.rule) for f in pool.check()}
    assert ("x1", "double_negative") in found
    assert ("x2", "double_barreled") in found
    assert ("x2", "long") in found
    assert ("x4", "duplicate") in found
    assert ("x1", "no_informant") in found
    assert ("f1", "no_reverse") in found
