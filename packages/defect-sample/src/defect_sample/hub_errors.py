"""Every failure to fetch a base model from the model hub as one :class:`HubModelError`.

diffusers and huggingface_hub report a missing, gated or unreachable repository in a dozen ways (a
``RepositoryNotFoundError`` wrapped in an ``OSError``, a ``LocalEntryNotFoundError`` raised from an
``OfflineModeIsEnabled``, multi-line messages with request ids). The user needs one line: which id, what
went wrong, what to do. The cause is read from the whole exception chain, because diffusers re-raises the
hub's error as the ``__cause__`` of its own.
"""

from __future__ import annotations

from collections.abc import Iterator

from defect_sample.base_model_error import BaseModelError
from defect_sample.hub_ids import mirror_of

LOCAL_FOLDER_HINT = "or pass a local diffusers folder with --base-model PATH"
LOGIN_HINT = "log in with `hf auth login` (older huggingface_hub: `huggingface-cli login`) or set HF_TOKEN"
# network failures of httpx, httpx2 (huggingface_hub >= 1) and requests, matched by class name so that no
# particular HTTP client has to be importable
_NETWORK_ERROR_NAMES = {
    "TransportError",
    "NetworkError",
    "ConnectError",
    "TimeoutException",
    "ConnectTimeout",
    "ReadTimeout",
    "ConnectionError",
    "Timeout",
}


class HubModelError(BaseModelError):
    """A base model could not be fetched from the model hub; ``str()`` is one line: id, cause, remedy."""

    def __init__(self, hub_id: str, cause: str, remedy: str) -> None:
        self.hub_id, self.cause, self.remedy = hub_id, cause, remedy
        super().__init__(hub_id, f"{cause}; {remedy}")
        # a hub id is not a path: keep its slash on every platform
        self.args = (f"{hub_id}: {cause}; {remedy}",)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, then its causes and contexts, each once (diffusers wraps the hub's error in its own)."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo.extend(x for x in (e.__cause__, e.__context__) if x is not None)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def hub_failure(
    hub_id: str, exc: BaseException, *, revision: str | None = None, asked_for: str | None = None
) -> HubModelError:
    """The :class:`HubModelError` that explains ``exc``, raised while fetching ``hub_id`` (at ``revision``).

    ``asked_for`` is the removed id whose mirror ``hub_id`` is, when it is one.
    """
    from huggingface_hub import constants, errors

    def types(*names: str) -> tuple[type[BaseException], ...]:
        # RevisionResolutionError and friends are recent; older huggingface_hub versions lack some
        return tuple(getattr(errors, n) for n in names if hasattr(errors, n))

    chain = list(_chain(exc))

    def first(*kinds: type[BaseException]) -> BaseException | None:
        return next((e for e in chain if kinds and isinstance(e, kinds)), None)

    where = f" at revision {revision!r}" if revision else ""
    mirror_note = f" (the mirror of the removed {asked_for!r})" if asked_for and asked_for != hub_id else ""
    http = first(*types("HfHubHTTPError"))
    status = _status(http) if http is not None else None
    if first(*types("GatedRepoError")):
        cause = f"gated repository: your hub account has not been granted access{mirror_note}"
        remedy = (
            f"accept its licence at https://huggingface.co/{hub_id}, then {LOGIN_HINT}; {LOCAL_FOLDER_HINT}"
        )
    elif first(*types("DisabledRepoError")):
        cause = f"the repository was disabled by its owner{mirror_note}"
        remedy = f"use another copy of the model, {LOCAL_FOLDER_HINT}"
    elif first(*types("RevisionNotFoundError")):
        cause = f"revision {revision!r} does not exist on the model hub{mirror_note}"
        remedy = "check --base-model-revision (a branch, tag or commit hash of the repository)"
    elif first(*types("RepositoryNotFoundError")):
        cause = (
            f"not found on the model hub (HTTP {status or 404}: removed, renamed, misspelled, or private)"
            f"{mirror_note}"
        )
        mirror = mirror_of(hub_id)
        remedy = (
            f"use its mirror --base-model {mirror}, {LOCAL_FOLDER_HINT}"
            if mirror
            else f"check the id (if the repository is private, {LOGIN_HINT}), {LOCAL_FOLDER_HINT}"
        )
    elif status in (401, 403):
        cause = f"the model hub refused access (HTTP {status}: not logged in, or the licence not accepted){mirror_note}"
        remedy = (
            f"{LOGIN_HINT} and accept the licence at https://huggingface.co/{hub_id}; {LOCAL_FOLDER_HINT}"
        )
    elif first(*types("LocalEntryNotFoundError", "OfflineModeIsEnabled", "RevisionResolutionError")) or any(
        cls.__name__ in _NETWORK_ERROR_NAMES for e in chain for cls in type(e).__mro__
    ):
        state = (
            "HF_HUB_OFFLINE=1 is set"
            if constants.HF_HUB_OFFLINE
            else "the model hub cannot be reached (offline?)"
        )
        cause = f"{state} and the local hub cache does not hold it{where}{mirror_note}"
        remedy = (
            "download it once while online, or point HF_HOME (or HF_HUB_CACHE) at a hub cache that holds it "
            f"and set HF_HUB_OFFLINE=1 to read only that cache, {LOCAL_FOLDER_HINT}"
        )
    elif status is not None:
        cause = f"the model hub answered HTTP {status}{where}{mirror_note}"
        remedy = f"try again later, {LOCAL_FOLDER_HINT}"
    else:
        cause = f"could not be fetched from the model hub{where} ({_first_line(exc)}){mirror_note}"
        remedy = LOCAL_FOLDER_HINT.removeprefix("or ")
    return HubModelError(hub_id, cause, remedy)
