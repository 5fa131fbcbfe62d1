"""Wording review of an item pool, for both forms: the rules behind ``allyscale pool check``.

Each rule returns :class:`allyscale.pool.Finding` objects that say which item, which form,
what was found and why it matters (``message``), how serious it is (``severity``: ``error``,
``warning`` or ``note``; ``accepted`` for a flag the pool documents a reason to keep) and
where the rule comes from (``source``). The rules are screens for a writer to review, not
verdicts: their error rates on a labelled set of items are measured by
``benchmarks/wording_rules.py`` and reported in ``docs/content_validity.md``.

Rules
-----
``long``, ``readability``, ``double_barreled``, ``negation``, ``double_negative``,
``absolute``, ``jargon``, ``duplicate``, ``near_duplicate`` (within a facet),
``inner_state`` (informant wording about what the rated person thinks, knows, believes or
feels, which an informant can only infer), ``reverse_balance`` and ``no_reverse`` (per
factor), ``few_items``, ``no_informant``.

An item may document why a flagged wording stays, in the pool file::

    - id: aw_slf4
      ...
      keep: {inner_state: "motives are the facet's content; informants judge them from cues"}

The finding is then reported with severity ``accepted`` and the reason.

References
----------
Boyle, G. J. (1991). Does item homogeneity indicate internal consistency or item redundancy
in psychometric scales? Personality and Individual Differences, 12, 291-294.
Clark, L. A., & Watson, D. (1995). Constructing validity: Basic issues in objective scale
development. Psychological Assessment, 7, 309-319.
DeVellis, R. F. (2017). Scale development: Theory and applications (4th ed.). Sage.
Edwards, A. L. (1957). Techniques of attitude scale construction. Appleton-Century-Crofts.
Funder, D. C. (1995). On the accuracy of personality judgment: A realistic approach.
Psychological Review, 102, 652-670.
John, O. P., & Robins, R. W. (1993). Determinants of interjudge agreement on personality
traits: The Big Five domains, observability, evaluativeness, and the unique perspective of
the self. Journal of Personality, 61, 521-551.
Kincaid, J. P., Fishburne, R. P., Rogers, R. L., & Chissom, B. S. (1975). Derivation of new
readability formulas for Navy enlisted personnel. Naval Technical Training Command.
Suárez-Alvarez, J., Pedrosa, I., Lozano, L. M., García-Cueto, E., Cuesta, M., & Muñiz, J.
(2018). Using reversed items in Likert scales: A questionable practice. Psicothema, 30,
149-158.
Tourangeau, R., Rips, L. J., & Rasinski, K. (2000). The psychology of survey response.
Cambridge University Press.
Vazire, S. (2010). Who knows what about a person? The self-other knowledge asymmetry (SOKA)
model. Journal of Personality and Social Psychology, 98, 281-300.
Weijters, B., & Baumgartner, H. (2012). Misresponse to reversed and negated items in surveys:
A review. Journal of Marketing Research, 49, 737-747.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from allyscale.readability import Finding, flesch_kincaid_grade

if TYPE_CHECKING:
    from allyscale.pool import ItemPool

__all__ = [
    "review_wording",
    "RULES",
    "SOURCES",
    "DEFAULT_JARGON",
    "inner_state_reason",
    "double_barreled_reason",
    "negations",
    "absolutes",
    "jargon_terms",
    "similarity",
]

SOURCES: dict[str, str] = {
    "long": "Clark & Watson (1995); DeVellis (2017): short items are read and understood more reliably",
    "readability": "Kincaid et al. (1975), Flesch-Kincaid grade; DeVellis (2017)",
    "double_barreled": "Clark & Watson (1995); DeVellis (2017): one idea per item",
    "negation": "Weijters & Baumgartner (2012); Suárez-Alvarez et al. (2018): negated items are misread",
    "double_negative": "Clark & Watson (1995); DeVellis (2017)",
    "absolute": "Edwards (1957): universals such as all, always, none, never are ambiguous",
    "jargon": "DeVellis (2017); Tourangeau, Rips & Rasinski (2000): respondents must understand every word",
    "duplicate": "Clark & Watson (1995); Boyle (1991): redundant items inflate alpha without adding content",
    "near_duplicate": "Clark & Watson (1995); Boyle (1991): redundant items inflate alpha without adding content",
    "inner_state": "Vazire (2010); John & Robins (1993); Funder (1995): others judge observable behaviour "
    "far better than inner states",
    "reverse_balance": "Weijters & Baumgartner (2012); Suárez-Alvarez et al. (2018)",
    "no_reverse": "Weijters & Baumgartner (2012): some reverse-keyed items control acquiescence",
    "few_items": "Clark & Watson (1995): at least three items per dimension",
    "no_informant": "the pool declares an informant form",
}
RULES = tuple(SOURCES)

_WORD = re.compile(r"[A-Za-z]+(?:['’-][A-Za-z]+)*")
_NEG = re.compile(r"\b(not|never|no|none|nobody|nothing|neither|nor|cannot|nowhere)\b|n['’]t\b", re.I)
# words with negative meaning that make a second negation with an explicit one ("never fail to", "not unfair")
_IMPLICIT_NEG = {
    "fail",
    "fails",
    "failed",
    "avoid",
    "avoids",
    "refuse",
    "refuses",
    "lack",
    "lacks",
    "unable",
    "ignore",
    "ignores",
    "deny",
    "denies",
    "without",
    "stop",
    "stops",
    "against",
}
_UN_EXCEPTIONS = {
    "under",
    "understand",
    "understands",
    "understood",
    "understanding",
    "until",
    "unit",
    "units",
    "union",
    "unions",
    "universal",
    "universe",
    "university",
    "unique",
    "unless",
    "unearned",
    "uniform",
    "unify",
    "unite",
    "united",
    "unity",
    "undergo",
    "undertake",
    "unlearn",
}
_ABSOLUTES = {
    "always",
    "never",
    "every",
    "everyone",
    "everybody",
    "everything",
    "everywhere",
    "all",
    "none",
    "nobody",
    "nothing",
    "completely",
    "totally",
    "entirely",
    "absolutely",
    "constantly",
    "only",
    "any",
    "anyone",
    "anything",
}
DEFAULT_JARGON = (
    "intersectional",
    "intersectionality",
    "microaggression",
    "microaggressions",
    "systemic",
    "hegemony",
    "hegemonic",
    "decolonize",
    "decolonise",
    "decolonizing",
    "performative",
    "positionality",
    "fragility",
    "tone policing",
    "tone-policing",
    "code-switch",
    "code-switching",
    "decenter",
    "decentre",
    "centering",
    "centring",
    "bipoc",
    "allyship",
    "marginalized",
    "marginalised",
    "racialized",
    "racialised",
    "praxis",
    "counter-narrative",
    "counter-narratives",
    "counternarrative",
    "epistemic",
    "normative",
    "internalized",
    "internalised",
    "heteronormative",
    "cisgender",
    "minoritized",
    "minoritised",
)
_CONJ = re.compile(r"\b(and/or|and|or|but|as well as)\b", re.I)
_SUBJECTS = {"i", "they", "he", "she", "we", "you", "this", "it", "person", "people"}
# verbs an item is built on (base and third-person forms), used to tell a conjunction joining two
# actions ("listens and donates") from one joining two objects ("friends and family")
_VERBS = set(
    """
accept accepts act acts admit admits advocate advocates agree agrees apologize apologizes apologise apologises
ask asks attend attends avoid avoids believe believes call calls care cares challenge challenges change changes
check checks confront confronts contact contacts correct corrects defend defends describe describes discuss
discusses donate donates encourage encourages examine examines explain explains feel feels follow follows
give gives go goes help helps ignore ignores interrupt interrupts intervene intervenes invite invites join joins
keep keeps know knows learn learns leave leaves listen listens make makes notice notices offer offers organize
organizes point points post posts push pushes question questions read reads recognize recognizes record records
reflect reflects refuse refuses reject rejects respect respects respond responds say says seek seeks share shares
show shows speak speaks stand stands stay stays step steps support supports take takes talk talks teach teaches
tell tells thank thanks think thinks treat treats try tries understand understands use uses value values vote
votes volunteer volunteers want wants work works write writes
""".split()
)
_MENTAL = re.compile(
    r"\b(believes?|believed|thinks?|knows?|knew|feels?|realizes?|realises?|understands?|recognizes?|recognises?|"
    r"wants?|cares?|values?|assumes?|expects?|wonders?|doubts?|worr(?:y|ies)|hopes?|wish(?:es)?|remembers?|notices?|"
    r"appreciates?|considers?|reflects?|examines?|imagines?|suspects?|questions?|finds it|"
    r"is (?:aware|convinced|willing|curious|proud|ashamed|afraid|eager|sure|certain|comfortable)|"
    r"are (?:aware|convinced|willing|curious|proud|ashamed|afraid|eager|sure|certain|comfortable)|aware of|"
    r"open mind|mind|heart|deep down|privately|in private|secretly|unlearn|"
    r"sees?(?=\s+(?:how|that|what|why|whether|themsel(?:f|ves)|himself|herself|\w+(?:\s+\w+)?\s+as\b)))\b",
    re.I,
)
_MOTIVE = re.compile(r"\b(?:mainly|only|just|simply|in order) to (?:look|seem|appear|feel|impress|be seen)\b", re.I)
# speech and visible acts: a mental verb after one of these is what the person says or shows ("says that
# they believe ...", "admits that they have a lot to learn")
_SHOWN = re.compile(
    r"\b(says?|said|tells?|told|talks?|speaks?|asks?|admits?|explains?|describes?|mentions?|points? out|writes?|"
    r"posts?|argues?|claims?|shares?|acknowledges?|states?|shows?|tells?|announces?|insists?|declares?|"
    r"complains?|jokes?|asked|mentioned|described|explained)\b",
    re.I,
)
_DETERMINERS = {
    "the",
    "a",
    "an",
    "my",
    "your",
    "their",
    "his",
    "her",
    "our",
    "its",
    "these",
    "those",
    "of",
    "own",
    "any",
    "some",
    "no",
    "and",
    "or",
    "cultural",
    "family",
    "personal",
    "core",
    "shared",
}
_ACQUAINTANCE = re.compile(
    r"\s*(?:$|[.,;:!?)]|(?:well|personally|from|at|in|through|socially|outside|"
    r"at work|there)\b)",
    re.I,
)
_CLAUSE = re.compile(r"[,;:]|\b(?:when|whenever|if|because|while|although|though|before|after|even)\b", re.I)
_TARGET = {"person", "they", "he", "she", "themself", "themselves", "himself", "herself", "who"}
_OTHER_SUBJECT = {
    "i",
    "me",
    "it",
    "we",
    "you",
    "topic",
    "racism",
    "news",
    "story",
    "stories",
    "someone",
    "people",
    "others",
    "police",
    "friends",
    "group",
    "communities",
}
_STOP = set(
    """a an the and or but of to in on at for with by from as is are was were be been it its this that these
those i me my we our you your they them their theirs he him his she her person people when about than then so
do does did not no can will would should could also more most very just own""".split()
)


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def negations(text: str) -> list[str]:
    """Explicit negations of a text ("not", "never", "n't", ...)."""
    return [m.group(0).lower() for m in _NEG.finditer(text)]


def _implicit_negatives(text: str) -> list[str]:
    out = []
    for w in _words(text):
        lw = w.lower()
        if lw in _IMPLICIT_NEG or (
            lw.startswith(("un", "dis"))
            and len(lw) > 5
            and lw not in _UN_EXCEPTIONS
            and not lw.startswith(("under", "disc", "dist", "dish", "disp", "disa"))
        ):
            out.append(lw)
    return out


def absolutes(text: str) -> list[str]:
    """Universal words of a text (Edwards, 1957), leaving out "at all" and "all of" in partitive use."""
    words = [w.lower() for w in _words(text)]
    out = []
    for i, w in enumerate(words):
        if w in _ABSOLUTES:
            if w == "all" and i > 0 and words[i - 1] == "at":
                continue
            out.append(w)
    return out


def jargon_terms(text: str, terms: Iterable[str] = DEFAULT_JARGON) -> list[str]:
    """Technical terms of a text that respondents may not know."""
    low = text.lower()
    found = []
    for t in terms:
        if re.search(r"(?<![A-Za-z])" + re.escape(t.lower()) + r"(?![A-Za-z])", low):
            found.append(t)
    # a multi-word term hides its parts
    return [t for t in found if not any(t != u and t in u for u in found)]


def double_barreled_reason(text: str) -> str | None:
    """Why a text asks two things, or None.

    A conjunction (and, or, but, as well as, and/or) that joins two clauses (a subject
    pronoun or "this person" follows it) or two actions (a verb follows it, and a verb
    comes before it) makes an item double-barreled. A conjunction joining two objects
    ("friends and family") is not flagged: the item still asks one thing about one act.
    """
    if "and/or" in text.lower():
        return "'and/or' joins two alternatives"
    for m in _CONJ.finditer(text):
        conj = m.group(0).lower()
        after = [w.lower() for w in _words(text[m.end() :])][:2]
        before = [w.lower() for w in _words(text[: m.start()])]
        if not after or not before:
            continue
        nxt = after[0]
        if nxt in _SUBJECTS and not (nxt == "people" and conj != "but"):
            return f"'{conj} {nxt}' joins two clauses: two statements in one item"
        if nxt in _VERBS and any(b in _VERBS for b in before[1:]) and nxt not in ("work", "works"):
            return f"'{conj} {nxt}' joins two actions: a respondent who does one but not the other cannot answer"
    return None


def inner_state_reason(text: str) -> str | None:
    """Why an informant wording asks about an inner state of the rated person, or None.

    Flags a verb or phrase of thinking, knowing, believing, feeling, wanting, valuing or
    noticing whose subject is the rated person ("this person", "they") in a clause that
    does not make it visible ("says that they believe ..." is observable speech), a motive
    ("mainly to look good") or a private setting ("in private").
    """
    m = _MOTIVE.search(text)
    if m:
        return f"'{m.group(0)}' asks the informant to judge a motive"
    starts = [0] + [c.end() for c in _CLAUSE.finditer(text)] + [len(text)]
    for a, b in zip(starts[:-1], starts[1:]):
        clause = text[a:b]
        for mm in _MENTAL.finditer(clause):
            before = clause[: mm.start()]
            if _SHOWN.search(before):
                continue
            words = [w.lower() for w in _words(before)]
            subj = next((w for w in reversed(words) if w in _TARGET or w in _OTHER_SUBJECT), None)
            phrase = mm.group(0).lower()
            if words and words[-1] in _DETERMINERS and " " not in phrase:
                continue  # a noun ("my values", "their doubts", "the heart of"), not a verb of the person
            if phrase in ("know", "knows", "knew") and _ACQUAINTANCE.match(clause[mm.end() :]):
                continue  # "people they know": acquaintance, not knowledge
            if phrase in ("privately", "in private", "secretly", "deep down"):
                return f"'{mm.group(0)}': the informant cannot observe this person in private"
            if subj is None and a > 0:
                # a clause without a subject continues the main clause ("..., even when ...")
                main = [w.lower() for w in _words(text[:a])]
                subj = next((w for w in reversed(main) if w in _TARGET or w in _OTHER_SUBJECT), None)
            if subj in _TARGET:
                return (
                    f"'{mm.group(0)}' is an inner state of the rated person that an informant can only infer; "
                    "word it as what the person says or does"
                )
    return None


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of the content words of two texts (stop words left out, crude stems)."""

    def stems(t: str) -> set[str]:
        out = set()
        for w in _words(t.lower()):
            if w in _STOP or len(w) < 3:
                continue
            for suf in ("ing", "es", "ed", "s"):
                if w.endswith(suf) and len(w) - len(suf) >= 4:
                    w = w[: -len(suf)]
                    break
            out.add(w)
        return out

    sa, sb = stems(a), stems(b)
    return len(sa & sb) / len(sa | sb) if sa | sb else 0.0


def review_wording(
    pool: ItemPool,
    *,
    max_words: int = 20,
    max_grade: float = 10.0,
    near_duplicate: float = 0.5,
    duplicate: float = 0.8,
    reverse_share: tuple[float, float] = (1 / 3, 2 / 3),
    jargon: Sequence[str] = DEFAULT_JARGON,
) -> list[Finding]:
    """Review the wording of both forms of every item (the rules of ``allyscale pool check``).

    Parameters
    ----------
    pool : ItemPool
    max_words : int
        ``long``: more words than this.
    max_grade : float
        ``readability``: a Flesch-Kincaid grade above this (Kincaid et al., 1975).
    near_duplicate : float
        ``near_duplicate``: Jaccard similarity of content words (see :func:`similarity`)
        at or above this between two items of the same facet (same form).
    duplicate : float
        ``duplicate``: identical wording (error) or word-set similarity at or above this
        with any other item of the pool.
    reverse_share : (low, high)
        ``reverse_balance``: a factor whose share of reverse-keyed items is outside this
        range is noted (a balanced key controls acquiescence; Weijters & Baumgartner, 2012).
    jargon : sequence of str
        ``jargon``: terms to flag.

    Returns
    -------
    list of Finding
        ``item, rule, message, severity, form, source``, in pool order, item rules first.
    """
    findings: list[Finding] = []
    wants_informant = "informant" in pool.forms

    def add(
        item: str, rule: str, message: str, severity: str = "warning", form: str = "", keep: dict | None = None
    ) -> None:
        if keep and rule in keep:
            message = f"{message} — kept: {keep[rule]}"
            severity = "accepted"
        findings.append(Finding(item, rule, message, severity, form=form, source=SOURCES[rule]))

    for it in pool.items:
        keep = dict(getattr(it, "keep", ()) or ())
        for form, text in (("self", it.text), ("informant", it.informant_text)):
            if text is None:
                if form == "informant" and wants_informant:
                    add(it.id, "no_informant", "no informant wording", "error", "informant", keep)
                continue
            n_words = len(_words(text))
            if n_words > max_words:
                add(it.id, "long", f"{n_words} words; keep items to {max_words} or fewer", "warning", form, keep)
            grade = flesch_kincaid_grade(text)
            if grade > max_grade:
                add(
                    it.id,
                    "readability",
                    f"Flesch-Kincaid grade {grade:.1f} (target <= {max_grade:g})",
                    "warning",
                    form,
                    keep,
                )
            why = double_barreled_reason(text)
            if why:
                add(it.id, "double_barreled", why, "warning", form, keep)
            neg = negations(text)
            implicit = _implicit_negatives(text)
            if len(neg) >= 2 or (neg and implicit):
                add(
                    it.id,
                    "double_negative",
                    f"negations {', '.join(repr(w) for w in neg + implicit)}: a double negative is hard to answer",
                    "error",
                    form,
                    keep,
                )
            elif neg:
                add(
                    it.id,
                    "negation",
                    f"contains {neg[0]!r}; state the behaviour positively (a reverse-keyed item "
                    "can describe the opposite behaviour instead)",
                    "warning",
                    form,
                    keep,
                )
            abs_words = absolutes(text)
            if abs_words:
                add(
                    it.id,
                    "absolute",
                    f"universal word(s) {', '.join(repr(w) for w in dict.fromkeys(abs_words))}: "
                    "few people always or never do anything",
                    "note",
                    form,
                    keep,
                )
            terms = jargon_terms(text, jargon)
            if terms:
                add(
                    it.id,
                    "jargon",
                    f"term(s) {', '.join(repr(t) for t in terms)} may be unfamiliar to "
                    "respondents; use everyday words or define them",
                    "note",
                    form,
                    keep,
                )
            if form == "informant":
                why = inner_state_reason(text)
                if why:
                    add(it.id, "inner_state", why, "warning", form, keep)
    # duplicates across the pool and near-duplicates within a facet, per form
    for form in ("self", "informant"):
        texts = [(it, it.text if form == "self" else it.informant_text) for it in pool.items]
        texts = [(it, t) for it, t in texts if t]
        for i, (a, ta) in enumerate(texts):
            for b, tb in texts[i + 1 :]:
                keep = dict(getattr(b, "keep", ()) or ())
                if ta.strip().lower() == tb.strip().lower():
                    add(b.id, "duplicate", f"same wording as {a.id}", "error", form, keep)
                    continue
                wa, wb = {w.lower() for w in _words(ta)}, {w.lower() for w in _words(tb)}
                jac = len(wa & wb) / max(1, len(wa | wb))
                if jac >= duplicate:
                    add(b.id, "duplicate", f"near-identical to {a.id} (word overlap {jac:.2f})", "warning", form, keep)
                elif a.facet is not None and a.facet == b.facet:
                    sim = similarity(ta, tb)
                    if sim >= near_duplicate:
                        add(
                            b.id,
                            "near_duplicate",
                            f"similar to {a.id} in facet {a.facet!r} (content-word overlap "
                            f"{sim:.2f}): does it add content?",
                            "warning",
                            form,
                            keep,
                        )
    for f in pool.factors:
        if len(f.items) < 3:
            add(f.id, "few_items", f"factor {f.id!r} has {len(f.items)} item(s); 3+ needed", "warning")
        for fc in f.facets:
            if len(fc.items) < 3:
                add(fc.id, "few_items", f"facet {fc.id!r} has {len(fc.items)} item(s)", "warning")
        n_rev = sum(it.reverse for it in f.items)
        if n_rev == 0:
            add(f.id, "no_reverse", f"factor {f.id!r} has no reverse-keyed item", "warning")
        else:
            share = n_rev / len(f.items)
            lo, hi = reverse_share
            if not lo <= share <= hi:
                add(
                    f.id,
                    "reverse_balance",
                    f"factor {f.id!r}: {n_rev} of {len(f.items)} items reverse-keyed "
                    f"({share:.0%}); a balanced key ({lo:.0%}-{hi:.0%}) controls "
                    "acquiescence, though reversed items can form a method factor",
                    "note",
                )
    return findings
