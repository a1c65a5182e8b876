"""What the page shows, as plain Python values (pictures, captions, Markdown), with no UI library involved."""

from __future__ import annotations

from PIL import Image

from defect_sample.review.feedback import Feedback, KidResult
from defect_sample.review.records import candidate_id
from defect_sample.review.session import Generation
from defect_sample.review.views import DISPLAY_SIDE, decided_tile, outlined, zoomed

DETAIL_SIDE = 384
KEYS_HELP = (
    "Keys (outside text fields): **a** accept · **r** reject · **f** flag (reason first) · "
    "**←** / **→** previous / next candidate"
)


def score_text(generation: Generation, index: int) -> str:
    """``psnr 12.3`` (the candidate's LFS score), with ``LFS pick`` on the one LFS would keep."""
    info = generation.info
    if not info.scores:
        return ""
    pick = " · LFS pick" if index == info.lfs_index else ""
    return f"{info.selection_metric} {info.scores[index]:.3g}{pick}"


def caption(generation: Generation, index: int) -> str:
    """A short gallery caption: ``c2 12.3★ accepted`` (index, LFS score, ★ on LFS's pick, status)."""
    info = generation.info
    score = f" {info.scores[index]:.3g}{'★' if index == info.lfs_index else ''}" if info.scores else ""
    return f"c{index}{score} {generation.status(index) or 'undecided'}"


def candidate_picture(generation: Generation, index: int, side: int = DISPLAY_SIDE) -> Image.Image:
    """The candidate enlarged with its region outlined, or a gray tile when its pixels are gone."""
    image = generation.candidates[index]
    if image is None:
        return decided_tile(generation.info.size, generation.status(index) or "", side)
    return outlined(image, generation.mask, side)


def gallery_items(generation: Generation) -> list[tuple[Image.Image, str]]:
    """(picture, caption) of every candidate, in order."""
    return [
        (candidate_picture(generation, k), caption(generation, k)) for k in range(generation.info.candidates)
    ]


def detail_pictures(generation: Generation, index: int) -> tuple[Image.Image, Image.Image]:
    """The selected candidate large with its outline, and a zoom on its region."""
    image = generation.candidates[index]
    if image is None:
        tile = decided_tile(generation.info.size, generation.status(index) or "", DETAIL_SIDE)
        return tile, tile
    return outlined(image, generation.mask, DETAIL_SIDE), zoomed(image, generation.mask, DETAIL_SIDE)


def candidate_summary(generation: Generation, index: int) -> str:
    """Markdown about the selected candidate: id, status, score, what was asked, seed and lineage."""
    info = generation.info
    record = generation.decisions.get(index)
    status = (
        "undecided" if record is None else record.status + (f" ({record.reason})" if record.reason else "")
    )
    if record is not None and record.item_id:
        status += f" → `defect/{record.item_id}.png`"
    lineage = f" · regenerated from g{info.parent:05d}" if info.parent is not None else ""
    score = score_text(generation, index)
    return (
        f"**{candidate_id(info.generation, index)}** · {status}"
        + (f" · {score}" if score else "")
        + f"  \n{info.description} · defect `{info.defect_name}` · region {info.mask_source} · seed "
        f"{info.seed}{lineage} · {info.steps} steps, guidance {info.guidance:g} · "
        f"{len(generation.undecided())} of {info.candidates} undecided"
    )


def feedback_markdown(feedback: Feedback) -> str:
    """The acceptance table per prompt / concept and the accepted count per defect type."""
    if not feedback.rows:
        return "No decisions yet."
    lines = ["| asked for | accepted | rejected | flagged | acceptance |", "|---|---:|---:|---:|---:|"]
    for row in feedback.rows:
        text = row.description.replace("|", "\\|")
        lines.append(f"| {text} | {row.accepted} | {row.rejected} | {row.flagged} | {row.rate:.0%} |")
    per_defect = ", ".join(f"`{name}` {count}" for name, count in feedback.accepted_per_defect.items())
    lines.append("")
    lines.append(f"Accepted items per defect type: {per_defect or 'none yet'}")
    return "\n".join(lines)


def kid_markdown(result: KidResult) -> str:
    """KID × 10³ with its std, the counts, and which features it used."""
    note = (
        ""
        if result.features == "inception"
        else " (a seeded random network, an offline stand-in: it ranks sets, it compares with no published KID)"
    )
    return (
        f"KID × 10³ = **{result.mean * 1e3:.3f}** ± {result.std * 1e3:.3f} · {result.fake_count} accepted "
        f"against {result.real_count} real images · features: {result.features}{note}"
    )


def done(text: str) -> str:
    """A success line for the message area."""
    return f"✔ {text}"


def problem(exc: BaseException) -> str:
    """A failure line for the message area: what went wrong, nothing written."""
    return f"⚠ **Not done:** {exc}"
