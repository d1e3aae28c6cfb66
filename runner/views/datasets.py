"""What `validate` says about one data file: size, token distribution, findings per check."""

from __future__ import annotations

from rich.markup import escape

from runner.datasets import Dataset


def dataset_report(ds: Dataset) -> list[str]:
    """What `validate` says about one data file: size, token distribution, findings per check."""
    lines = [f"  [bold]{escape(ds.display)}[/bold] ({ds.role}, sha256 {ds.sha256[:12]}, {ds.bytes:,} bytes)"]
    st = ds.stats
    if st is not None:
        lines.append(
            f"    {st.examples:,} examples, {st.total_tokens:,} tokens ({st.assistant_tokens:,} trained), {st.encoding}"
        )
        lines.append(
            f"    tokens per example: p10 {st.p10:,}, p50 {st.p50:,}, p90 {st.p90:,}, max {st.max:,}; "
            f"{st.over_limit:,} over the {st.context_limit:,}-token limit"
        )
        if st.missing_system or st.missing_user:
            lines.append(
                f"    {st.missing_system:,} without a system message, {st.missing_user:,} without a user message"
            )
    else:
        lines.append(f"    {ds.examples:,} examples")
    for check, n in ds.check_counts:
        lines.append(f"    [yellow]{escape(check)}[/yellow]: {n:,}")
    return lines
