"""Resource limits for one notebook run, with defaults that TensorFlow training fits inside."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SandboxLimits(BaseModel):
    """Per-assignment limits (rubric `runtime.limits`); each defends against one kind of abuse."""

    model_config = ConfigDict(extra="forbid")
    memory_mb: int = Field(
        3072, ge=256, le=65536, description="RAM for the kernel and all its children."
    )
    processes: int = Field(
        256, ge=16, le=4096, description="Processes and threads, all counted together."
    )
    threads: int = Field(
        2,
        ge=1,
        le=64,
        description="Threads TensorFlow, OpenMP and BLAS may each use; "
        "also the CPUs the kernel's CPU quota allows.",
    )
    scratch_mb: int = Field(256, ge=16, le=16384, description="Files the notebook may write.")
    open_files: int = Field(1024, ge=64, le=65536)
    max_file_mb: int = Field(
        128, ge=1, le=16384, description="Largest single file the notebook may write."
    )
    cpu_seconds: int = Field(3600, ge=10, le=86400, description="CPU time for the whole kernel.")
    output_kb: int = Field(
        256, ge=8, le=65536, description="Text and images one cell may keep in the report."
    )
