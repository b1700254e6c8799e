"""/jobs: list, read, cancel, retry, and a Server-Sent Events progress stream."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from kith.auth.dependencies import CurrentPrincipal
from kith.auth.principal import Principal
from kith.db.engine import Database
from kith.db.session import DbSession
from kith.http.pagination import ListParams, Page, list_params, paginate
from kith.jobs import service
from kith.jobs.models import TERMINAL, Job, JobState
from kith.jobs.schemas import JobOut

router = APIRouter(prefix="/jobs", tags=["jobs"])

SORTS = {"createdAt": Job.created_at, "finishedAt": Job.finished_at, "type": Job.type}
POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0


@router.get("", response_model=Page[JobOut])
def list_jobs(
    principal: CurrentPrincipal,
    session: DbSession,
    params: ListParams = Depends(list_params),
    state: JobState | None = Query(None),
    type: str | None = Query(None, max_length=100),
) -> Page[JobOut]:
    stmt = service.visible_jobs(principal)
    if state:
        stmt = stmt.where(Job.state == state)
    if type:
        stmt = stmt.where(Job.type == type)
    return paginate(
        session,
        stmt,
        params,
        sort_fields=SORTS,
        default_sort=["-createdAt"],
        id_column=Job.id,
        to_item=JobOut.of,
    )


@router.get("/{job_id}", response_model=JobOut)
def get_job(job_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> JobOut:
    return JobOut.of(service.get_job(session, principal, job_id))


@router.post("/{job_id}/cancel", response_model=JobOut)
def cancel_job(job_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> JobOut:
    """Cancel a queued job now, or ask a running one to stop at its next checkpoint."""
    return JobOut.of(service.cancel(session, principal, job_id))


@router.post("/{job_id}/retry", response_model=JobOut)
def retry_job(job_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession) -> JobOut:
    """Re-queue a failed (dead-letter) or cancelled job with fresh attempts."""
    return JobOut.of(service.retry(session, principal, job_id))


def _read(database: Database, principal: Principal, job_id: uuid.UUID) -> JobOut:
    with database.transaction() as session:
        return JobOut.of(service.get_job(session, principal, job_id))


@router.get(
    "/{job_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "progress events"}},
)
def job_events(
    job_id: uuid.UUID, request: Request, principal: CurrentPrincipal, session: DbSession
) -> StreamingResponse:
    """Server-Sent Events: a `progress` event whenever the job changes, then `end`."""
    service.get_job(session, principal, job_id)  # 404 before the stream starts
    database: Database = request.app.state.database

    async def stream() -> AsyncIterator[str]:
        last = ""
        quiet = 0.0
        while True:
            job = await anyio.to_thread.run_sync(_read, database, principal, job_id)
            data = job.model_dump_json(by_alias=True)
            if data != last:
                last, quiet = data, 0.0
                yield f"event: progress\nid: {job.progress.done}\ndata: {data}\n\n"
            if job.state in TERMINAL:
                yield f"event: end\ndata: {data}\n\n"
                return
            if await request.is_disconnected():
                return
            await asyncio.sleep(POLL_SECONDS)
            quiet += POLL_SECONDS
            if quiet >= KEEPALIVE_SECONDS:
                quiet = 0.0
                yield ": keep-alive\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
