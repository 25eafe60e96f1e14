"""Language of the transcript with lingua (``lingua-language-detector``: its n-gram models are
compiled into the wheel, so nothing is downloaded).

The detector chooses among ``candidates`` only: fewer candidates load faster, take less memory
and confuse less on short texts. Its confidence is relative to those candidates (they sum to
1), so it is most meaningful with a candidate set that covers the languages that can occur.

The confidence is rounded to :data:`CONFIDENCE_DECIMALS` decimals: lingua sums n-gram
probabilities in hash-map order, which differs between detector instances, so the last bits of
its float vary from one worker to the next, and builds must not.
"""

from __future__ import annotations

from collections.abc import Sequence

from curate.models.config import LangIdConfig, TextNorm
from curate.models.errors import ModelLoadError
from curate.models.identity import model_info
from curate.models.records import LangIdResult
from curate.models.textnorm import normalize

__all__ = ["CONFIDENCE_DECIMALS", "LanguageIdentifier"]

CONFIDENCE_DECIMALS = 4


class LanguageIdentifier:
    """A loaded lingua detector (high-accuracy mode, models preloaded; thread-safe)."""

    def __init__(self, candidates: Sequence[str]) -> None:
        try:
            import lingua
            from lingua import IsoCode639_1, Language, LanguageDetectorBuilder
        except ImportError as e:
            raise ModelLoadError(
                f"signals.langid: lingua-language-detector is not installed ({e})"
            ) from e
        languages = []
        for code in candidates:
            try:
                languages.append(Language.from_iso_code_639_1(IsoCode639_1.from_str(code)))
            except ValueError:
                raise ModelLoadError(
                    f"signals.langid.candidates: lingua has no language with code {code!r}"
                ) from None
        builder = LanguageDetectorBuilder.from_languages(*languages)
        self._detector = builder.with_preloaded_language_models().build()
        self.candidates = tuple(candidates)
        self.info = model_info("lingua-language-detector", [lingua.lingua.__file__],
                               detail="candidates=" + ",".join(sorted(candidates)))
        self.model_id = self.info.model_id

    @classmethod
    def load(cls, cfg: LangIdConfig) -> LanguageIdentifier:
        return cls(cfg.candidates)

    def identify(self, text: str) -> LangIdResult:
        """The most likely candidate language of ``text`` and its confidence; ``("", 0.0)``
        when the text has no letters."""
        words = len(normalize(text, TextNorm.BASIC).split())
        values = self._detector.compute_language_confidence_values(text)
        best = values[0] if values else None
        if best is None or best.value <= 0.0:
            return LangIdResult(language="", confidence=0.0, words=words, model_id=self.model_id)
        return LangIdResult(
            language=best.language.iso_code_639_1.name.lower(),
            confidence=round(float(best.value), CONFIDENCE_DECIMALS),
            words=words,
            model_id=self.model_id,
        )
