"""The W&B comparison Report for one run group (``wandb_workspaces.reports.v2``).

:func:`build_wandb_report` only builds objects (no network). :func:`publish_wandb_report` checks
for an API key offline, probes the server with a short socket timeout, then saves the report in
a worker thread bounded by a timeout; every failure is reported on one line, never raised.
"""

from __future__ import annotations

import netrc
import os
import socket
import threading
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from rvqvae.report.wandb_panels import (
    DEFAULT_MEDIA_KEY,
    DEFAULT_PARAMS,
    report_panels,
    to_wandb_panels,
    vocoder_panels,
)

__all__ = [
    "DEFAULT_MEDIA_KEY",
    "DEFAULT_PARAMS",
    "build_wandb_report",
    "find_api_key",
    "publish_wandb_report",
    "report_panels",
    "server_reachable",
]

DEFAULT_BASE_URL = "https://api.wandb.ai"
DEFAULT_PROJECT = "rvqvae"
CONNECT_TIMEOUT_S = 3.0
SAVE_TIMEOUT_S = 60.0


def base_url() -> str:
    """The W&B server (``WANDB_BASE_URL`` or the public cloud)."""
    return os.environ.get("WANDB_BASE_URL") or DEFAULT_BASE_URL


def find_api_key() -> str | None:
    """The W&B API key from ``WANDB_API_KEY``, the netrc file or wandb's settings; no network."""
    key = os.environ.get("WANDB_API_KEY")
    if key:
        return key
    host = urlsplit(base_url()).hostname or ""
    netrc_path = os.environ.get("NETRC") or os.path.expanduser("~/.netrc")
    if os.path.isfile(netrc_path):
        try:
            auth = netrc.netrc(netrc_path).authenticators(host)
        except (netrc.NetrcParseError, OSError):
            auth = None
        if auth and auth[2]:
            return auth[2]
    try:  # wandb's own offline lookup (login session, settings files); internal API
        from wandb.sdk import wandb_setup
        from wandb.sdk.lib import wbauth

        settings = wandb_setup.singleton().settings
        auth = wbauth.session_credentials(host=settings.base_url)
        if isinstance(auth, wbauth.AuthApiKey):
            return auth.api_key
        return settings.api_key or None
    except Exception:  # noqa: BLE001 - any failure means "no key we can use"
        return None


def server_reachable(url: str | None = None, timeout: float = CONNECT_TIMEOUT_S) -> bool:
    """True if a TCP connection to the W&B server opens within ``timeout`` seconds."""
    parts = urlsplit(url or base_url())
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False


def _run_bounded(fn: Callable[[], Any], timeout: float) -> Any:
    """Run ``fn`` in a daemon thread; raise TimeoutError after ``timeout`` seconds."""
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            result["error"] = e

    worker = threading.Thread(target=target, name="rvqvae-wandb-report", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"no answer from W&B within {timeout:g} s")
    if "error" in result:
        raise result["error"]
    return result.get("value")


def build_wandb_report(
    group: str,
    entity: str,
    project: str,
    params: Sequence[str] = DEFAULT_PARAMS,
    media_key: str = DEFAULT_MEDIA_KEY,
    title: str | None = None,
    description: str = "",
    vqvae: bool = True,
    prior_levels: int | None = None,
    vocoders: bool = False,
) -> Any:
    """A ``wandb_workspaces.reports.v2.Report`` comparing the runs of W&B group ``group``.

    VQ-VAE panels (unless ``vqvae`` is False): val/recon_l1 and train/recon_l1_epoch curves,
    rate-distortion scatter (bitrate_bps vs val/norm_l1), parallel coordinates over ``params``
    + val/norm_l1, a run comparer and a media browser on ``media_key``. With ``prior_levels``
    (the RVQ levels of the priors' VQ-VAE) a "Priors" grid follows: val/bits_per_s overall and
    per level, unigram and raw bits/s, Fréchet distances, sample audio; with ``vocoders`` a
    "Vocoders" grid (Griffin-Lim vs vocoder, side-by-side audio). Every key comes from
    :mod:`rvqvae.report.wandb_panels`. The runsets are filtered to ``Group == group``.
    Builds objects only (no network).
    """
    import wandb_workspaces.reports.v2 as wr
    from wandb_workspaces import expr

    def runset() -> Any:
        return wr.Runset(
            entity=entity,
            project=project,
            name=f"group {group}",
            filters=[expr.Metric("Group") == group],
        )

    vq, prior = report_panels(vqvae, prior_levels, media_key)
    blocks: list[Any] = [wr.H1(text=f"Group {group}")]
    if vq:
        blocks += [
            wr.P(text="Curves, rate-distortion and previews of every run in the group."),
            wr.PanelGrid(runsets=[runset()], panels=to_wandb_panels(vq, params)),
        ]
    if prior:
        blocks += [
            wr.H2(text="Priors"),
            wr.P(text="Bits per second of the codes under each prior, Fréchet distances, samples."),
            wr.PanelGrid(runsets=[runset()], panels=to_wandb_panels(prior, params)),
        ]
    if vocoders:
        blocks += [
            wr.H2(text="Vocoders"),
            wr.P(text="Griffin-Lim vs vocoder vs ideal phase; the same files side by side."),
            wr.PanelGrid(runsets=[runset()], panels=to_wandb_panels(vocoder_panels())),
        ]
    default_description = f"Runs of group {group}: losses, rate-distortion, codebooks."
    if prior and not vq:
        default_description = f"Prior runs of group {group}: bits/s, Fréchet distances, samples."
    return wr.Report(
        entity=entity,
        project=project,
        title=(title or f"RVQ-VAE comparison: {group}")[:128],
        description=description or default_description,
        width="fluid",
        blocks=blocks,
    )


def _default_entity(timeout: float) -> str:
    import wandb

    api = wandb.Api(timeout=int(max(1, timeout)))
    entity = api.default_entity
    if not entity:
        raise RuntimeError("no default W&B entity; pass --entity")
    return entity


def publish_wandb_report(
    group: str,
    entity: str | None = None,
    project: str | None = None,
    params: Sequence[str] = DEFAULT_PARAMS,
    media_key: str = DEFAULT_MEDIA_KEY,
    title: str | None = None,
    timeout: float = SAVE_TIMEOUT_S,
    echo: Callable[[str], None] = print,
    vqvae: bool = True,
    prior_levels: int | None = None,
    vocoders: bool = False,
) -> str | None:
    """Build, save and print the URL of the group's W&B report; returns the URL or None.

    Without an API key or a reachable server it prints one line and returns None, never
    raising; the whole exchange with W&B is bounded by ``timeout`` seconds.
    """
    if not find_api_key():
        echo("W&B report skipped: no API key (set WANDB_API_KEY or run `wandb login`).")
        return None
    if not server_reachable():
        echo(f"W&B report skipped: cannot reach {base_url()} (no network?).")
        return None
    entity = entity or os.environ.get("WANDB_ENTITY")
    project = project or os.environ.get("WANDB_PROJECT") or DEFAULT_PROJECT

    def save() -> str:
        report = build_wandb_report(
            group,
            entity or _default_entity(timeout),
            project,
            params=params,
            media_key=media_key,
            title=title,
            vqvae=vqvae,
            prior_levels=prior_levels,
            vocoders=vocoders,
        )
        report.save()
        return str(report.url)

    try:
        url = _run_bounded(save, timeout)
    except Exception as e:  # noqa: BLE001 - one line, never a traceback
        message = " ".join(str(e).split())[:300]
        echo(f"W&B report failed: {type(e).__name__}: {message}")
        return None
    echo(f"W&B report: {url}")
    return url
