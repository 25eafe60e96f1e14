"""What changed between two versions: examples by key and content, counts and hours per split,
the mean of every signal of a split whose examples changed, the signal models, and files.
Examples are compared on the manifests: same key with a different ``audio_sha256`` or ``text``
is *changed*, and so is one whose serialised Example differs (``example_sha256``, when both
manifests have it: layout 2), so that "no change" means the same example bytes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from curate.layout import manifest_files

if TYPE_CHECKING:
    import pyarrow as pa

    from registry.dataset import DatasetVersion

__all__ = ["SplitDiff", "VersionDiff", "diff_versions"]

_CONTENT = ("audio_sha256", "text")
_EXAMPLE_BYTES = ("example_sha256",)  # layout 2 manifests


@dataclass(frozen=True, kw_only=True, slots=True)
class SplitDiff:
    split: str
    examples_before: int
    examples_after: int
    hours_before: float
    hours_after: float
    added: tuple[str, ...]  # keys, sorted
    removed: tuple[str, ...]
    changed: tuple[str, ...]
    # (signal, mean before, mean after) for each signal of curate.stats.BINS in either manifest,
    # when the split's examples changed; None where a side lacks the signal or the split.
    signals: tuple[tuple[str, float | None, float | None], ...] = ()

    @property
    def examples_delta(self) -> int:
        return self.examples_after - self.examples_before

    @property
    def hours_delta(self) -> float:
        return self.hours_after - self.hours_before

    @property
    def unchanged(self) -> bool:
        return not (self.added or self.removed or self.changed) and not self.examples_delta

    def to_dict(self) -> dict[str, Any]:
        return {
            "split": self.split,
            "examples_before": self.examples_before,
            "examples_after": self.examples_after,
            "examples_delta": self.examples_delta,
            "hours_before": self.hours_before,
            "hours_after": self.hours_after,
            "hours_delta": self.hours_delta,
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": list(self.changed),
            "signals": {name: {"mean_before": a, "mean_after": b} for name, a, b in self.signals},
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class VersionDiff:
    before: str  # a reference, e.g. "asr-demo@v1"
    after: str
    before_commit: str
    after_commit: str
    splits: tuple[SplitDiff, ...]
    files_added: tuple[str, ...]
    files_removed: tuple[str, ...]
    files_changed: tuple[str, ...]
    # (model, model id before, model id after) for each signal model that differs; "" if absent
    models: tuple[tuple[str, str, str], ...] = ()

    def split(self, name: str) -> SplitDiff:
        return next(s for s in self.splits if s.split == name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "before": self.before,
            "after": self.after,
            "before_commit": self.before_commit,
            "after_commit": self.after_commit,
            "splits": {s.split: s.to_dict() for s in self.splits},
            "files": {
                "added": list(self.files_added),
                "removed": list(self.files_removed),
                "changed": list(self.files_changed),
            },
            "models": {name: {"before": a, "after": b} for name, a, b in self.models},
        }


def _key_changes(
    before: pa.Table | None, after: pa.Table | None
) -> tuple[list[str], list[str], list[str]]:
    """(added, removed, changed) keys, each sorted."""
    import pyarrow.compute as pc

    if before is None or after is None:
        keys = sorted((after if before is None else before).column("key").to_pylist())
        return (keys, [], []) if before is None else ([], keys, [])
    content = [*_CONTENT, *(c for c in _EXAMPLE_BYTES
                            if c in before.column_names and c in after.column_names)]
    a = before.select(["key", *content])
    b = after.select(["key", *content])
    added = b.filter(pc.invert(pc.is_in(b["key"], value_set=a["key"])))["key"].to_pylist()
    removed = a.filter(pc.invert(pc.is_in(a["key"], value_set=b["key"])))["key"].to_pylist()
    both = a.join(b, keys="key", join_type="inner", left_suffix=".before", right_suffix=".after")
    differs = None
    for col in content:
        x, y = both[f"{col}.before"], both[f"{col}.after"]
        # Null on exactly one side counts as a change; null on both does not.
        ne = pc.if_else(pc.is_null(x), pc.is_valid(y), pc.fill_null(pc.not_equal(x, y), True))
        differs = ne if differs is None else pc.or_(differs, ne)
    changed = both.filter(differs)["key"].to_pylist() if both.num_rows else []
    return sorted(added), sorted(removed), sorted(changed)


def _signal_means(before: pa.Table | None, after: pa.Table | None
                  ) -> tuple[tuple[str, float | None, float | None], ...]:
    """Mean of each signal column of :data:`curate.stats.BINS` present on either side."""
    import pyarrow.compute as pc

    from curate.stats import BINS

    def mean(table: pa.Table | None, name: str) -> float | None:
        if table is None or name not in table.column_names or table.num_rows == 0:
            return None
        value = pc.mean(table[name]).as_py()
        return None if value is None else float(value)

    names = [n for n in BINS if any(t is not None and n in t.column_names for t in (before, after))]
    return tuple((n, mean(before, n), mean(after, n)) for n in names)


def _model_changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[tuple[str, str, str], ...]:
    ma, mb = before.get("models", {}), after.get("models", {})
    out = []
    for name in sorted(set(ma) | set(mb)):
        a, b = ma.get(name, {}).get("model_id", ""), mb.get(name, {}).get("model_id", "")
        if a != b:
            out.append((name, a, b))
    return tuple(out)


def _same_manifest(a: Mapping[str, Any], b: Mapping[str, Any], split: str) -> bool:
    """Whether both versions list the same manifest files of ``split`` with the same bytes."""
    ra, rb = manifest_files(a, split), manifest_files(b, split)
    return ra == rb and all((a["files"].get(r) or {}).get("sha256")
                            == (b["files"].get(r) or {}).get("sha256") for r in ra)


def diff_versions(before: DatasetVersion, after: DatasetVersion) -> VersionDiff:
    """Compare two versions (of one dataset or of two)."""
    from curate.config import split_name_problem
    from registry.errors import IntegrityError

    fa, fb = before.info["files"], after.info["files"]
    split_diffs = []
    for split in sorted(set(before.info["splits"]) | set(after.info["splits"])):
        problem = split_name_problem(split)  # it becomes a path below: checked first
        if problem:
            side = before if split in before.info["splits"] else after
            raise IntegrityError(f"{side.ref}: {problem}")
        sa, sb = before.info["splits"].get(split), after.info["splits"].get(split)
        signals: tuple[tuple[str, float | None, float | None], ...] = ()
        if sa is not None and sb is not None and _same_manifest(before.info, after.info, split):
            added, removed, changed = [], [], []  # same manifest bytes: same examples
        else:
            ta = before.manifest(split) if sa is not None else None
            tb = after.manifest(split) if sb is not None else None
            added, removed, changed = _key_changes(ta, tb)
            signals = _signal_means(ta, tb)
        split_diffs.append(
            SplitDiff(
                split=split,
                examples_before=int(sa["num_examples"]) if sa else 0,
                examples_after=int(sb["num_examples"]) if sb else 0,
                hours_before=float(sa["duration_s"]) / 3600 if sa else 0.0,
                hours_after=float(sb["duration_s"]) / 3600 if sb else 0.0,
                added=tuple(added),
                removed=tuple(removed),
                changed=tuple(changed),
                signals=signals,
            )
        )
    return VersionDiff(
        before=before.ref,
        after=after.ref,
        before_commit=before.commit_id,
        after_commit=after.commit_id,
        splits=tuple(split_diffs),
        files_added=tuple(sorted(set(fb) - set(fa))),
        files_removed=tuple(sorted(set(fa) - set(fb))),
        files_changed=tuple(sorted(p for p in set(fa) & set(fb) if fa[p] != fb[p])),
        models=_model_changes(before.info, after.info),
    )
