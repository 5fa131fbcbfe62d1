"""The SQLite results store and the export of its replications as tables."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from allyscale.errors import SpecificationError
from allyscale.montecarlo.spec import _STORE_VERSION, FIT_MEASURES, StudySpec


class _Store:
    """The SQLite results store (WAL; written by the parent process only)."""

    def __init__(self, path: str | Path, spec: StudySpec | None = None):
        self.path = str(path)
        exists = Path(self.path).exists()
        if spec is None and not exists:
            raise SpecificationError(f"results store {self.path!r} does not exist")
        self.con = sqlite3.connect(self.path, timeout=30)
        try:
            self.con.execute("PRAGMA journal_mode=WAL")
            self.con.execute("PRAGMA synchronous=NORMAL")
            tables = {r[0] for r in self.con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as exc:
            raise SpecificationError(f"{self.path!r} is not an allyscale results store: {exc}") from None
        if spec is None:
            if "meta" not in tables:
                raise SpecificationError(f"{self.path!r} is not an allyscale results store (no 'meta' table)")
            self._check_version()
            return
        if "meta" in tables:
            stored = self.meta().get("spec_hash")
            if stored is None:
                raise SpecificationError(f"{self.path!r} is not an allyscale results store")
            self._check_version()
            if stored != spec.hash():
                raise SpecificationError(
                    f"results store {self.path!r} belongs to a different study spec (hash {stored[:12]} vs "
                    f"{spec.hash()[:12]}); use a new --store or the original spec (only 'reps' may change)"
                )
            with self.con:
                self.con.execute("UPDATE meta SET value=? WHERE key='spec'", (json.dumps(spec.to_dict()),))
            return
        if tables:
            raise SpecificationError(f"{self.path!r} is an SQLite file but not an allyscale results store")
        with self.con:
            self.con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            self.con.execute(
                "CREATE TABLE results (condition INTEGER NOT NULL, rep INTEGER NOT NULL, "
                "payload TEXT NOT NULL, sha256 TEXT NOT NULL, PRIMARY KEY (condition, rep))"
            )
            self.con.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [
                    ("spec_hash", spec.hash()),
                    ("spec", json.dumps(spec.to_dict())),
                    ("store_version", str(_STORE_VERSION)),
                ],
            )

    def meta(self) -> dict[str, str]:
        return dict(self.con.execute("SELECT key, value FROM meta"))

    def spec_dict(self) -> dict:
        return json.loads(self.meta()["spec"])

    def _check_version(self) -> None:
        version = self.meta().get("store_version")
        if version != str(_STORE_VERSION):
            raise SpecificationError(
                f"results store {self.path!r} has format version {version}, this allyscale writes version "
                f"{_STORE_VERSION} (a spec hash over the resolved population and a checksum per replication); "
                "rerun the study into a new --store"
            )

    def _verified(self, condition: int, rep: int, text: str, digest: str) -> str:
        if _digest(text) != digest:
            raise SpecificationError(
                f"results store {self.path!r}: the stored replication (condition {condition}, rep {rep}) fails its "
                "SHA-256 checksum: the store was changed or damaged after it was written; rerun the study into a "
                "new --store (or delete that row from the 'results' table to have it run again)"
            )
        return text

    def done(self) -> set[tuple[int, int]]:
        """The (condition, rep) pairs stored, each payload verified against its checksum."""
        out = set()
        for c, r, text, digest in self.con.execute("SELECT condition, rep, payload, sha256 FROM results"):
            self._verified(c, r, text, digest)
            out.add((c, r))
        return out

    def write(self, payload: dict) -> None:
        text = json.dumps(payload, allow_nan=False)
        with self.con:  # one transaction per replication
            self.con.execute(
                "INSERT OR IGNORE INTO results VALUES (?, ?, ?, ?)",
                (payload["condition"], payload["rep"], text, _digest(text)),
            )

    def payloads(self) -> Iterable[dict]:
        """Every stored replication in order, each verified against its checksum."""
        query = "SELECT condition, rep, payload, sha256 FROM results ORDER BY condition, rep"
        for c, r, text, digest in self.con.execute(query):
            yield json.loads(self._verified(c, r, text, digest))

    def close(self) -> None:
        self.con.close()


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _open_store(store: str | Path) -> tuple[_Store, StudySpec]:
    db = _Store(store)
    spec_dict = db.spec_dict()
    raw = {k: v for k, v in spec_dict.items() if k not in ("source",)}
    # rebuild the spec from its stored normalised form
    spec = StudySpec(
        population=raw["population"],
        pool=raw["pool"],
        population_options=raw["population_options"],
        models=raw["models"],
        true_model=raw["true_model"],
        estimator=raw["estimator"],
        retention=tuple(raw["retention"]),
        retention_corr=raw["retention_corr"],
        parallel_iter=raw.get("parallel_iter", 20),
        reliability=raw["reliability"],
        true_factors=raw["true_factors"],
        interest=tuple(raw["interest"]),
        fit_options=raw["fit_options"],
        conditions=raw["conditions"],
        reps=raw["reps"],
        seed=raw["seed"],
        name=raw["name"],
        source=spec_dict.get("source", "<store>"),
        correct_structures=tuple(raw.get("correct_structures", ()) or ()),
        groups=raw.get("groups"),
        invariance=bool(raw.get("invariance", False)),
    )
    return db, spec


def export_study(store: str | Path) -> dict[str, pd.DataFrame]:
    """The stored replications as tidy tables.

    Returns
    -------
    dict of DataFrame
        ``reps``: one row per condition × replication × model (``condition``, the
        condition columns such as ``n``, ``rep``, ``model``, ``converged``, ``proper``,
        every fit measure, ``seconds``, ``error``, and per replication the retention
        decisions ``n_factors_parallel`` / ``n_factors_map``, the replication's
        ``rep_seconds`` with its parts ``simulate_seconds``, ``retention_seconds``,
        ``fits_seconds``, ``reliability_seconds``, and ``rep_error``); a replication without models has one row with
        ``model`` empty. ``estimates``: long format, one row per condition ×
        replication × model × parameter (``lhs, op, rhs, est, se, pvalue, std_all``).
        ``reliability``: one row per condition × replication × factor of the true model.
        ``tests``: one row per condition × replication × nested pair of models (``model0``
        nested in ``model1``): the difference test's ``chisq_diff, df_diff, pvalue``.
        ``invariance`` (groups studies): one row per condition × replication × invariance
        level: ``held`` (the fit policy's decision), ``pvalue``, ``chisq_diff``, ``df_diff``,
        ``delta_cfi``, ``delta_rmsea``, ``population_noninvariant``.
    """
    db, spec = _open_store(store)
    try:
        conds = spec.condition_list
        rep_rows, est_rows, rel_rows, test_rows, inv_rows = [], [], [], [], []
        for p in db.payloads():
            c, r = p["condition"], p["rep"]
            base = {"condition": c, **{k: _cond_value(v) for k, v in conds[c].items()}, "rep": r}
            ret = {f"n_factors_{k}": v for k, v in p.get("retention", {}).items()}
            tail = {
                "reliability_warnings": "; ".join(p.get("reliability_warnings", [])) or None,
                "rep_seconds": p.get("seconds"),
                **{f"{k}_seconds": v for k, v in (p.get("timing") or {}).items()},
                "rep_error": p.get("error"),
            }
            if not p["fits"]:
                rep_rows.append({**base, "model": None, **ret, **tail})
            for name, f in p["fits"].items():
                row = {**base, "model": name, "converged": f.get("converged"), "proper": f.get("proper")}
                row.update({k: (f.get("measures") or {}).get(k) for k in FIT_MEASURES})
                row.update(
                    {
                        "seconds": f.get("seconds"),
                        "error": f.get("error"),
                        "warnings": "; ".join(f.get("warnings", [])) or None,
                    }
                )
                rep_rows.append({**row, **ret, **tail})
                for e in f.get("estimates", []) or []:
                    est_rows.append({**base, "model": name, **e})
            for row in p.get("reliability", []):
                rel_rows.append({**base, "model": spec.true_model, **row})
            for row in p.get("tests", []) or []:
                test_rows.append({**base, **row})
            for row in p.get("invariance", []) or []:
                inv_rows.append({**base, **row})
        reps = pd.DataFrame(rep_rows)
        for col in FIT_MEASURES:
            if col in reps:
                reps[col] = pd.to_numeric(reps[col], errors="coerce").astype(float)
        tests = pd.DataFrame(
            test_rows,
            columns=["condition", *conds[0], "rep", "model0", "model1", "chisq_diff", "df_diff", "pvalue", "error"]
            if not test_rows
            else None,
        )
        return {
            "reps": reps,
            "estimates": pd.DataFrame(est_rows),
            "reliability": pd.DataFrame(rel_rows),
            "tests": tests,
            "invariance": pd.DataFrame(inv_rows),
        }
    finally:
        db.close()


def _cond_value(v: Any) -> Any:
    return v if isinstance(v, (int, float, str, bool)) or v is None else json.dumps(v)
