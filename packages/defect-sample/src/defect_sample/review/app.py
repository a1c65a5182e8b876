"""The review page: Gradio components over a :class:`ReviewSession`, and the server that serves them.

Gradio is imported inside the functions (the ``review`` extra; see ``extras``). Handlers are closures over
the session; each returns a dict of the components it changes, and any refused input becomes a message in
the page (``#review-message``) with nothing written. The page keeps one view (the shown generation and the
selected candidate): the app is one expert's tool on one output folder.
"""

# no ``from __future__ import annotations``: Gradio reads the handlers' annotations (gr.SelectData) as objects

import functools
import logging
from pathlib import Path

import numpy as np

from defect_core.errors import DefectfillError
from defect_core.masks.shapes import available_shapes
from defect_sample.review import page_content
from defect_sample.review.config import ReviewConfig
from defect_sample.review.extras import MissingExtraError, require_gradio
from defect_sample.review.records import ACCEPTED, FLAGGED, REJECTED
from defect_sample.review.regions import region_layer
from defect_sample.review.session import GenerationRequest, ReviewSession
from defect_sample.review.views import corners_picture, display_scale

logger = logging.getLogger(__name__)

PROMPT_CHOICE = "(prompt: describe the defect)"
BRUSH_COLOR = ("#ff2020", 0.6)
BRUSH_FRACTION = 24
"""The brush's default radius: the first normal image's short side / this."""
KEYBOARD_JS = """
<script>
document.addEventListener("keydown", (event) => {
  const target = event.target;
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.isContentEditable)) return;
  const ids = {a: "review-accept", r: "review-reject", f: "review-flag",
               ArrowRight: "review-next", ArrowLeft: "review-prev"};
  const button = ids[event.key] && document.getElementById(ids[event.key]);
  if (button) { event.preventDefault(); button.click(); }
});
</script>
"""
GRADIO_CACHE_SECONDS = (3600, 3600)
PAGE_CSS = """
#review-gallery .grid-container { grid-template-columns: repeat(auto-fill, 184px) !important;
                                  grid-template-rows: none !important; grid-auto-rows: 184px !important; }
"""
"""Candidate thumbnails of one size whatever their number (Gradio stretches a short row to the full width)."""
REFUSED = (DefectfillError, ValueError, KeyError, OSError, MissingExtraError)


class _View:
    """Which generation the page shows and which of its candidates is selected."""

    def __init__(self, session: ReviewSession) -> None:
        self.session = session
        pending = session.pending_ids()
        self.generation: int | None = pending[-1] if pending else None
        self.selected = 0
        self.select_undecided()

    def current(self):
        return None if self.generation is None else self.session.generations.get(self.generation)

    def select_undecided(self, after: int = -1) -> None:
        """Select the first undecided candidate after ``after`` (wrapping), or keep the selection."""
        gen = self.current()
        if gen is None:
            return
        undecided = gen.undecided()
        later = [k for k in undecided if k > after]
        if later or undecided:
            self.selected = (later or undecided)[0]

    def step(self, delta: int) -> None:
        gen = self.current()
        if gen is not None:
            self.selected = (self.selected + delta) % gen.info.candidates


def build_review_app(session: ReviewSession):
    """The page (a ``gradio.Blocks``) over ``session``; :func:`launch_review_app` serves it."""
    gr = require_gradio()
    config = session.config
    view = _View(session)
    concepts = list(session.concepts)
    names = session.normal_names()
    limits_text = session.limits.describe()
    # Gradio's automatic brush is sized for photographs; a 64 px image wants a few pixels
    brush_size = max(1, min(session.load_normal(names[0]).size) // BRUSH_FRACTION) if names else "auto"

    def refusing(handler):
        """Turn a refused input into a message in the page instead of an error."""

        @functools.wraps(handler)
        def wrapper(*args, **kwargs):
            try:
                return handler(*args, **kwargs)
            except REFUSED as exc:
                logger.info("refused: %s", exc)
                return {message: page_content.problem(exc)}

        return wrapper

    # Gradio serves the pictures it is handed from copies in its temp folder: drop them after an hour
    with gr.Blocks(
        title="defectfill review", analytics_enabled=False, delete_cache=GRADIO_CACHE_SECONDS
    ) as demo:
        gr.Markdown(
            "## defectfill review\nPick a normal image, mark where the defect goes, describe it, "
            "generate, then accept or reject each candidate. Accepted ones are written to "
            f"`{session.out_dir}` (defect/, mask/, manifest.jsonl); every decision to review.jsonl."
        )
        message = gr.Markdown("", elem_id="review-message")
        region_state = gr.State({"source": "drawn", "mask": None})
        points_state = gr.State([])
        with gr.Row():
            with gr.Column(scale=3):
                with gr.Row():
                    normal_dd = gr.Dropdown(
                        names,
                        value=names[0] if names else None,
                        label="1. Normal image",
                        elem_id="review-normal",
                        scale=3,
                    )
                    upload_normal = gr.UploadButton(
                        "Upload a normal image",
                        file_types=["image"],
                        type="filepath",
                        elem_id="review-upload-normal",
                        scale=1,
                    )
                editor = gr.ImageEditor(
                    label="Mark the region with the brush (eraser to correct)",
                    type="numpy",
                    image_mode="RGBA",
                    sources=(),
                    transforms=(),
                    layers=False,
                    format="png",
                    elem_id="review-editor",
                    brush=gr.Brush(
                        colors=[BRUSH_COLOR],
                        default_color=BRUSH_COLOR,
                        color_mode="fixed",
                        default_size=brush_size,
                    ),
                    height=420,
                )
                with gr.Accordion("Other ways to set the region", open=False):
                    gr.Markdown(
                        f"Uploads: {limits_text}; a mask must have the image's size (white = defect)."
                    )
                    with gr.Row():
                        upload_mask = gr.UploadButton(
                            "Upload a mask",
                            file_types=["image"],
                            type="filepath",
                            elem_id="review-upload-mask",
                        )
                        shape_dd = gr.Dropdown(available_shapes(), value="ellipse", label="Generated shape")
                        shape_btn = gr.Button("Place shape on the object", elem_id="review-shape")
                    with gr.Row(visible=bool(session.dataset_mask_names())):
                        dataset_names = session.dataset_mask_names()
                        dataset_dd = gr.Dropdown(
                            dataset_names,
                            value=dataset_names[0] if dataset_names else None,
                            label="Real mask from the dataset",
                        )
                        dataset_btn = gr.Button("Use this mask")
                    corners = gr.Image(
                        label="Click corners here: two for a rectangle, three or more for a polygon",
                        interactive=False,
                        elem_id="review-corners",
                        height=280,
                    )
                    with gr.Row():
                        fill_btn = gr.Button("Add the clicked shape to the region", elem_id="review-fill")
                        clear_points_btn = gr.Button("Clear corners")
                        clear_region_btn = gr.Button("Clear the region", elem_id="review-clear-region")
            with gr.Column(scale=2):
                concept_dd = gr.Dropdown(
                    [PROMPT_CHOICE, *concepts],
                    value=PROMPT_CHOICE,
                    label="2. Learned concept, or a prompt",
                    elem_id="review-concept",
                )
                prompt_box = gr.Textbox(
                    label="Prompt (describe the defect)",
                    elem_id="review-prompt",
                    placeholder="e.g. a dark scratch on the surface",
                )
                negative_box = gr.Textbox(
                    config.negative_prompt or "", label="Negative prompt", elem_id="review-negative"
                )
                defect_box = gr.Textbox(
                    config.defect_name,
                    label="Defect name (file stem, per-type counts)",
                    elem_id="review-defect-name",
                )
                steps0, guidance0 = session.defaults(None)
                with gr.Accordion("Advanced settings", open=False):
                    steps_box = gr.Number(
                        steps0, label="Steps", precision=0, minimum=1, elem_id="review-steps"
                    )
                    guidance_box = gr.Number(
                        guidance0, label="Guidance scale", minimum=0, elem_id="review-guidance"
                    )
                    candidates_box = gr.Slider(
                        1,
                        16,
                        value=config.candidates,
                        step=1,
                        label="Candidates",
                        elem_id="review-candidates",
                    )
                    seed_box = gr.Number(
                        config.seed, label="Seed", precision=0, minimum=0, elem_id="review-seed"
                    )
                    background_box = gr.Checkbox(True, label="Background replacement (DefectFill)")
                    composite_box = gr.Checkbox(
                        False, label="Paste the normal pixels back outside the region"
                    )
                with gr.Row():
                    generate_btn = gr.Button("3. Generate", variant="primary", elem_id="review-generate")
                    regenerate_btn = gr.Button(
                        "Regenerate (new seed, keeps the parent)", elem_id="review-regenerate"
                    )
        with gr.Row():
            generation_dd = gr.Dropdown(
                [], label="Generation (those with undecided candidates)", elem_id="review-generation", scale=1
            )
            gr.Markdown(page_content.KEYS_HELP)
        gallery = gr.Gallery(
            label=f"4. Candidates: region outlined in yellow; LFS score ({session.selector.name}), "
            "★ on the one LFS would keep (shown, not imposed)",
            columns=8,
            height=236,
            allow_preview=False,
            object_fit="contain",
            elem_id="review-gallery",
        )
        with gr.Row():
            detail = gr.Image(
                label="Selected candidate", interactive=False, elem_id="review-detail", height=300
            )
            zoom = gr.Image(label="Zoom on the region", interactive=False, elem_id="review-zoom", height=300)
            with gr.Column():
                summary = gr.Markdown("", elem_id="review-summary")
                reason_box = gr.Textbox(
                    label="Reason (needed for a flag, optional otherwise)", elem_id="review-reason"
                )
                with gr.Row():
                    prev_btn = gr.Button("◀", elem_id="review-prev", min_width=40)
                    accept_btn = gr.Button("Accept (a)", variant="primary", elem_id="review-accept")
                    reject_btn = gr.Button("Reject (r)", variant="stop", elem_id="review-reject")
                    flag_btn = gr.Button("Flag (f)", elem_id="review-flag")
                    next_btn = gr.Button("▶", elem_id="review-next", min_width=40)
        with gr.Accordion("5. Feedback", open=True):
            feedback_md = gr.Markdown(
                page_content.feedback_markdown(session.feedback()), elem_id="review-feedback"
            )
            with gr.Row():
                kid_btn = gr.Button(
                    "KID of the accepted set against the real images"
                    if config.real
                    else "KID (start the app with --real DIR)",
                    interactive=config.real is not None,
                    elem_id="review-kid",
                )
                kid_md = gr.Markdown("", elem_id="review-kid-result")

        review_outputs = [generation_dd, gallery, detail, zoom, summary]

        def review_view() -> dict:
            gen = view.current()
            pending = session.pending_ids()
            choices = [(f"g{g:05d}", g) for g in pending]
            if gen is not None and gen.id not in pending:
                choices.append((f"g{gen.id:05d} (all decided)", gen.id))
            if gen is None:
                return {
                    generation_dd: gr.update(choices=choices, value=None),
                    gallery: [],
                    detail: None,
                    zoom: None,
                    summary: "No candidates yet: generate some.",
                }
            big, crop = page_content.detail_pictures(gen, view.selected)
            return {
                generation_dd: gr.update(choices=choices, value=gen.id),
                gallery: gr.update(value=page_content.gallery_items(gen), selected_index=view.selected),
                detail: big,
                zoom: crop,
                summary: page_content.candidate_summary(gen, view.selected),
            }

        def editor_value(normal: str, mask) -> dict:
            image = np.asarray(session.load_normal(normal).convert("RGBA"))
            layers = [] if mask is None else [region_layer(mask)]
            return {"background": image, "layers": layers, "composite": None}

        def region_of(normal: str, editor_data) -> np.ndarray:
            if not normal:
                raise ValueError("pick a normal image first")
            if not editor_data or editor_data.get("background") is None:
                raise ValueError("the editor shows no image: pick a normal image again")
            return session.region_from_layers(normal, editor_data.get("layers") or [])

        def current_mask(normal: str, editor_data):
            """The painted region, or None when nothing is painted yet (adding a shape to nothing is fine)."""
            layers = (editor_data or {}).get("layers") or []
            if not any(np.asarray(layer)[..., 3].any() for layer in layers if layer is not None):
                return None
            return region_of(normal, editor_data)

        def set_region(normal: str, mask, source: str, text: str) -> dict:
            return {
                editor: editor_value(normal, mask),
                region_state: {"source": source, "mask": mask},
                points_state: [],
                corners: corners_picture(session.load_normal(normal), mask, []),
                message: page_content.done(text),
            }

        # -- 1. pick and draw -------------------------------------------------------------------------------

        @refusing
        def on_load():
            normal = names[0] if names else None
            out = review_view()
            text = (
                f"{len(session.pending_ids())} generation(s) waiting for decisions"
                if session.pending_ids()
                else "Ready"
            )
            if session.recovered:
                text += f"; {session.recovered} accepted item(s) recovered after an interruption"
            out[message] = page_content.done(text + ".")
            if normal:
                out.update(
                    {
                        editor: editor_value(normal, None),
                        corners: corners_picture(session.load_normal(normal), None, []),
                    }
                )
            return out

        @refusing
        def on_pick_normal(normal: str):
            if not normal:
                return {message: ""}
            return set_region(normal, None, "drawn", f"Picked {normal}: mark the region.")

        @refusing
        def on_upload_normal(path: str):
            name = session.upload_normal(path, Path(path).name)
            return {
                normal_dd: gr.update(choices=session.normal_names(), value=name),
                message: page_content.done(f"Uploaded as {name}."),
            }

        @refusing
        def on_upload_mask(normal: str, path: str):
            name = Path(path).name
            mask = session.region_from_upload(normal, path, name)
            return set_region(normal, mask, f"upload:{name}", f"Region from the uploaded mask {name}.")

        @refusing
        def on_shape(normal: str, kind: str, seed):
            mask = session.region_from_shape(normal, kind, int(seed or 0))
            return set_region(normal, mask, f"shape:{kind}", f"Placed a {kind} on the object.")

        @refusing
        def on_dataset_mask(normal: str, name: str):
            mask = session.region_from_dataset(normal, name)
            out = set_region(
                normal, mask, str(session.dataset_masks.path(name)), f"Region from the real mask {name}."
            )
            out[defect_box] = session.dataset_masks.defect_name(name)
            return out

        @refusing
        def on_corner(normal: str, editor_data, points: list, evt: gr.SelectData):
            image = session.load_normal(normal)
            scale = display_scale(image.size)
            x, y = evt.index
            points = [*points, (min(image.width - 1, x // scale), min(image.height - 1, y // scale))]
            return {
                points_state: points,
                corners: corners_picture(image, current_mask(normal, editor_data), points),
                message: page_content.done(f"{len(points)} corner(s) clicked."),
            }

        @refusing
        def on_fill(normal: str, editor_data, points: list, state: dict):
            shape = session.region_from_points(normal, points)
            before = current_mask(normal, editor_data)
            mask = shape if before is None else shape | before
            kind = "rectangle" if len(points) == 2 else "polygon"
            source = kind if before is None else f"drawn+{kind}"
            return set_region(normal, mask, source, f"Added a {kind} to the region.")

        @refusing
        def on_clear_points(normal: str, editor_data):
            return {
                points_state: [],
                corners: corners_picture(session.load_normal(normal), current_mask(normal, editor_data), []),
                message: "",
            }

        @refusing
        def on_clear_region(normal: str):
            return set_region(normal, None, "drawn", "Region cleared.")

        # -- 2. describe, 3. generate -------------------------------------------------------------------------

        @refusing
        def on_concept(choice: str):
            concept = None if choice == PROMPT_CHOICE else choice
            steps, guidance = session.defaults(concept)
            return {
                steps_box: steps,
                guidance_box: guidance,
                prompt_box: gr.update(interactive=concept is None),
                defect_box: gr.update(interactive=concept is None),
            }

        def request_from(
            normal,
            editor_data,
            state,
            choice,
            prompt,
            negative,
            defect,
            steps,
            guidance,
            count,
            seed,
            background,
            composite,
            parent=None,
        ) -> GenerationRequest:
            mask = region_of(normal, editor_data)
            loaded = state.get("mask")
            source = (
                "drawn"
                if loaded is None
                else (state["source"] if np.array_equal(loaded, mask) else f"drawn+{state['source']}")
            )
            return GenerationRequest(
                normal=normal,
                mask=mask,
                mask_source=source,
                concept=None if choice == PROMPT_CHOICE else choice,
                prompt=prompt,
                negative_prompt=negative,
                defect_name=defect,
                candidates=int(count),
                steps=int(steps) if steps else None,
                guidance=None if guidance is None else float(guidance),
                seed=int(seed or 0),
                parent=parent,
                background_replacement=bool(background),
                pixel_composite=bool(composite),
            )

        def run_generation(request: GenerationRequest, progress) -> dict:
            progress(0, desc=f"generating {request.candidates} candidate(s)")
            gen = session.generate(
                request,
                on_step=lambda done, total: progress((done, total), desc="denoising", unit="UNet calls"),
            )
            view.generation, view.selected = gen.id, 0
            out = review_view()
            out[message] = page_content.done(
                f"Generation g{gen.id:05d}: {gen.info.candidates} candidate(s) at {gen.info.size[0]}x"
                f"{gen.info.size[1]} px, seed {gen.info.seed}. Review them below."
            )
            out[seed_box] = gen.info.seed
            return out

        @refusing
        def on_generate(
            normal,
            editor_data,
            state,
            choice,
            prompt,
            negative,
            defect,
            steps,
            guidance,
            count,
            seed,
            background,
            composite,
            progress=gr.Progress(),  # noqa: B008 -- Gradio's progress marker
        ):
            request = request_from(
                normal,
                editor_data,
                state,
                choice,
                prompt,
                negative,
                defect,
                steps,
                guidance,
                count,
                seed,
                background,
                composite,
            )
            return run_generation(request, progress)

        @refusing
        def on_regenerate(
            normal,
            editor_data,
            state,
            choice,
            prompt,
            negative,
            defect,
            steps,
            guidance,
            count,
            seed,
            background,
            composite,
            progress=gr.Progress(),  # noqa: B008 -- Gradio's progress marker
        ):
            gen = view.current()
            if gen is None:
                raise ValueError("nothing to regenerate yet: generate first")
            request = request_from(
                normal,
                editor_data,
                state,
                choice,
                prompt,
                negative,
                defect,
                steps,
                guidance,
                count,
                int(seed or 0) + 1,
                background,
                composite,
                parent=gen.id,
            )
            return run_generation(request, progress)

        # -- 4. review ----------------------------------------------------------------------------------------

        @refusing
        def on_select(evt: gr.SelectData):
            view.selected = int(evt.index)
            return review_view()

        @refusing
        def on_show_generation(generation):
            if generation is not None and generation != view.generation:
                view.generation = int(generation)
                view.selected = 0
                view.select_undecided()
            return review_view()

        @refusing
        def on_step(delta: int):
            view.step(delta)
            return review_view()

        def decision_handler(status: str):
            @refusing
            def on_decide(reason: str):
                gen = view.current()
                if gen is None:
                    raise ValueError("no candidate to decide on: generate first")
                record = session.decide(gen.id, view.selected, status, reason or "")
                view.select_undecided(after=view.selected)
                out = review_view()
                where = f" → defect/{record.item_id}.png" if record.item_id else ""
                out.update(
                    {
                        message: page_content.done(f"{record.candidate_id} {record.status}{where}."),
                        reason_box: "",
                        feedback_md: page_content.feedback_markdown(session.feedback()),
                    }
                )
                return out

            return on_decide

        @refusing
        def on_kid():
            return {
                kid_md: page_content.kid_markdown(session.kid()),
                message: page_content.done("KID computed."),
            }

        # -- wiring ---------------------------------------------------------------------------------------------

        region_outputs = [editor, region_state, points_state, corners, message]
        generate_inputs = [
            normal_dd,
            editor,
            region_state,
            concept_dd,
            prompt_box,
            negative_box,
            defect_box,
            steps_box,
            guidance_box,
            candidates_box,
            seed_box,
            background_box,
            composite_box,
        ]
        demo.load(on_load, None, [*review_outputs, editor, corners, message])
        normal_dd.change(on_pick_normal, normal_dd, region_outputs)
        upload_normal.upload(on_upload_normal, upload_normal, [normal_dd, message])
        upload_mask.upload(on_upload_mask, [normal_dd, upload_mask], region_outputs)
        shape_btn.click(on_shape, [normal_dd, shape_dd, seed_box], region_outputs)
        dataset_btn.click(on_dataset_mask, [normal_dd, dataset_dd], [*region_outputs, defect_box])
        corners.select(on_corner, [normal_dd, editor, points_state], [points_state, corners, message])
        fill_btn.click(on_fill, [normal_dd, editor, points_state, region_state], region_outputs)
        clear_points_btn.click(on_clear_points, [normal_dd, editor], [points_state, corners, message])
        clear_region_btn.click(on_clear_region, normal_dd, region_outputs)
        concept_dd.change(on_concept, concept_dd, [steps_box, guidance_box, prompt_box, defect_box, message])
        generated = [*review_outputs, seed_box, message]
        generate_btn.click(on_generate, generate_inputs, generated, concurrency_id="generate")
        regenerate_btn.click(on_regenerate, generate_inputs, generated, concurrency_id="generate")
        gallery.select(on_select, None, [*review_outputs, message])
        generation_dd.input(on_show_generation, generation_dd, [*review_outputs, message])
        prev_btn.click(functools.partial(on_step, -1), None, [*review_outputs, message])
        next_btn.click(functools.partial(on_step, 1), None, [*review_outputs, message])
        decided = [*review_outputs, message, reason_box, feedback_md]
        accept_btn.click(decision_handler(ACCEPTED), reason_box, decided)
        reject_btn.click(decision_handler(REJECTED), reason_box, decided)
        flag_btn.click(decision_handler(FLAGGED), reason_box, decided)
        kid_btn.click(on_kid, None, [kid_md, message])
    return demo


def launch_review_app(demo, config: ReviewConfig, *, block: bool = True, quiet: bool = False):
    """Serve the page on ``config.host:config.port`` (uploads capped at ``config.max_upload_mb``, never shared
    through a public link); ``block=False`` returns at once (tests), leaving the server running."""
    return demo.launch(
        server_name=config.host,
        server_port=config.port,
        auth=config.auth_pair,
        share=False,
        max_file_size=config.upload_limit_bytes,
        prevent_thread_lock=not block,
        quiet=quiet,
        show_error=True,
        head=KEYBOARD_JS,
        css=PAGE_CSS,
        footer_links=[],
    )
