"""``--split`` in the cloud: the parts are made in S3, and their outputs joined in S3.

An S3 input object is never downloaded: ranged GETs read a window near each cut to find the
record boundary (``smkit.transform.split``; at most about 2 MiB a cut), and each part is a
new object made by a multipart upload whose parts are UploadPartCopy byte ranges of the
input (S3 copies the bytes itself). S3 wants every part of a multipart upload but the last
to be at least 5 MiB, and smkit holds the input's parts to the same floor, so an object is
cut into at most size / 5 MiB parts (``part_counts``). A local input is cut as it is
uploaded: each part is one upload of a byte range of the file.

The parts go under a temporary prefix that the job reads instead of the input; objects that
need no cut are copied there (inside S3). Their outputs are joined in input order into the
input's ``<key>.out`` by another multipart upload (UploadPartCopy where a part's output is at
least 5 MiB, the bytes otherwise), and the parts and their outputs are deleted, also when the
job fails. The buyer's input objects are only read.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from smkit.aws.clients import call
from smkit.buyer.staging import folder, list_objects, output_base, s3_url, split_prefix
from smkit.core.errors import UserError
from smkit.project.transform_job import TransformJob
from smkit.transform import split

Echo = Callable[[str], None]

#: S3 multipart uploads: every part but the last at least 5 MiB, none over 5 GiB.
MIN_PART = 5 << 20
MAX_PART = 5 << 30


def object_reader(s3: Any, bucket: str, key: str) -> split.Read:
    """A ``Read`` over an S3 object by ranged GETs."""

    def read(start: int, end: int) -> bytes:
        if end <= start:
            return b""
        with call("s3", "GetObject"):
            body: bytes = s3.get_object(Bucket=bucket, Key=key,
                                        Range=f"bytes={start}-{end - 1}")["Body"].read()
        return body

    return read


class _Multipart:
    """One multipart upload, aborted unless ``complete`` is reached."""

    def __init__(self, s3: Any, bucket: str, key: str) -> None:
        self.s3, self.bucket, self.key = s3, bucket, key
        with call("s3", "CreateMultipartUpload"):
            self.upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        self.parts: list[dict[str, Any]] = []

    def copy(self, source_bucket: str, source_key: str, start: int, end: int) -> None:
        """Add bytes [start, end) of an object, copied by S3 (ranges over 5 GiB in pieces)."""
        pieces = max(1, math.ceil((end - start) / MAX_PART))
        bounds = [start + (end - start) * i // pieces for i in range(pieces + 1)]
        for a, b in itertools.pairwise(bounds):
            number = len(self.parts) + 1
            with call("s3", "UploadPartCopy"):
                answer = self.s3.upload_part_copy(
                    Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
                    PartNumber=number, CopySource={"Bucket": source_bucket, "Key": source_key},
                    CopySourceRange=f"bytes={a}-{b - 1}")
            self.parts.append({"PartNumber": number,
                               "ETag": answer["CopyPartResult"]["ETag"]})

    def put(self, data: bytes) -> None:
        """Add bytes sent from here."""
        number = len(self.parts) + 1
        with call("s3", "UploadPart"):
            answer = self.s3.upload_part(Bucket=self.bucket, Key=self.key,
                                         UploadId=self.upload_id, PartNumber=number, Body=data)
        self.parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def complete(self) -> None:
        """Make the object."""
        with call("s3", "CompleteMultipartUpload"):
            self.s3.complete_multipart_upload(Bucket=self.bucket, Key=self.key,
                                              UploadId=self.upload_id,
                                              MultipartUpload={"Parts": self.parts})

    def abort(self) -> None:
        """Drop the upload and the parts S3 holds for it."""
        with call("s3", "AbortMultipartUpload"):
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key,
                                           UploadId=self.upload_id)


def copy_range(s3: Any, bucket: str, key: str, target_bucket: str, target_key: str,
               start: int, end: int) -> None:
    """Make ``target_key`` from bytes [start, end) of ``key`` inside S3 (UploadPartCopy)."""
    if end <= start:
        with call("s3", "PutObject"):
            s3.put_object(Bucket=target_bucket, Key=target_key, Body=b"")
        return
    upload = _Multipart(s3, target_bucket, target_key)
    try:
        upload.copy(bucket, key, start, end)
        upload.complete()
    except BaseException:
        upload.abort()
        raise


def concatenate(s3: Any, bucket: str, sources: Sequence[tuple[str, int]], target: str) -> None:
    """Make ``target`` from ``sources`` ((key, size) in ``bucket``) joined in order.

    A source of 5 MiB or more is copied by S3; smaller ones are read and sent, gathered into
    parts of at least 5 MiB (a part before a copy is topped up from the copy's first bytes),
    so no more than about 10 MiB is held here at once.
    """
    upload = _Multipart(s3, bucket, target)
    buffer = bytearray()
    try:
        for key, size in sources:
            read = object_reader(s3, bucket, key)
            start = 0
            if buffer and size >= 2 * MIN_PART:
                start = MIN_PART - len(buffer) if len(buffer) < MIN_PART else 0
                buffer += read(0, start)
                upload.put(bytes(buffer))
                buffer.clear()
            if not buffer and size - start >= MIN_PART:
                upload.copy(bucket, key, start, size)
                continue
            buffer += read(start, size)
            if len(buffer) >= MIN_PART:
                upload.put(bytes(buffer))
                buffer.clear()
        if not upload.parts:  # small enough to send in one request
            upload.abort()
            with call("s3", "PutObject"):
                s3.put_object(Bucket=bucket, Key=target, Body=bytes(buffer))
            return
        if buffer:
            upload.put(bytes(buffer))
        upload.complete()
    except BaseException:
        upload.abort()
        raise


def delete_keys(s3: Any, bucket: str, keys: Sequence[str]) -> None:
    """Delete ``keys`` from ``bucket``, a thousand per request."""
    for i in range(0, len(keys), 1000):
        with call("s3", "DeleteObjects"):
            s3.delete_objects(Bucket=bucket, Delete={
                "Objects": [{"Key": k} for k in keys[i:i + 1000]], "Quiet": True})


class _Slice:
    """Bytes [start, end) of an open file, read as a file (for ``upload_fileobj``)."""

    def __init__(self, handle: IO[bytes], start: int, end: int) -> None:
        self.handle, self.pos, self.end = handle, start, end

    def read(self, size: int = -1) -> bytes:
        left = self.end - self.pos
        want = left if size is None or size < 0 else min(size, left)
        self.handle.seek(self.pos)
        data = self.handle.read(want)
        self.pos += len(data)
        return data


# ----------------------------------------------------------------------------- a split job


@dataclass
class Piece:
    """One input of a split job: its name under the input folder and its parts' names
    (``[rel]`` when it was not cut), all relative to the job's input prefix."""

    rel: str
    parts: list[str]
    #: Where each part starts in the input (bytes).
    starts: list[int] = field(default_factory=list)
    #: The input as the buyer named it (an s3:// URL or a local path).
    source: str = ""

    @property
    def cut(self) -> bool:
        """True when the input was cut into more than one part."""
        return len(self.parts) > 1


@dataclass
class SplitInput:
    """A split job's input: the prefix the job reads, what is in it, and what to delete."""

    #: The prefix the transform job reads (``s3://bucket/prefix/``).
    input_uri: str
    pieces: list[Piece]
    #: Objects made for the job (parts and copies), deleted afterwards.
    made: list[str] = field(default_factory=list)

    @property
    def objects(self) -> int:
        """Objects the job reads."""
        return sum(len(p.parts) for p in self.pieces)

    def explain(self, text: str) -> str:
        """``text`` (a failure naming part objects) with each part named as the input it
        came from, which part it is and where it starts; the records and lines a message
        counts are the part's own."""
        root = self.input_uri.rstrip("/") + "/"
        for piece in self.pieces:
            if not piece.cut:
                continue
            for i, (name, start) in enumerate(zip(piece.parts, piece.starts, strict=False)):
                text = text.replace(
                    root + name, f"{piece.source} (--split part {i + 1} of "
                    f"{len(piece.parts)}, from byte {start}; records and lines counted "
                    "from there)")
        return text

    def describe(self) -> str | None:
        """One line naming the inputs that were cut, or None."""
        cut = [p for p in self.pieces if p.cut]
        if not cut:
            return None
        return ("--split: " + ", ".join(f"{p.rel} into {len(p.parts)} parts" for p in cut)
                + f" at record boundaries, under {self.input_uri}")


def split_s3_input(s3: Any, input_uri: str, parts_uri: str, job: TransformJob) -> SplitInput:
    """Cut the objects under ``input_uri`` into parts under ``parts_uri`` inside S3.

    Objects too small to cut are copied beside the parts, so the job reads one prefix; when
    no object needs a cut, nothing is made and the job reads ``input_uri`` itself.
    """
    split.check_splittable(job)
    bucket, prefix = split_prefix(input_uri)
    base = folder(prefix)
    objects = list_objects(s3, input_uri)
    counts = split.part_counts([size for _, size in objects], job.instance_count, MIN_PART)
    if all(c <= 1 for c in counts):
        return SplitInput(input_uri, [Piece(key[len(base):], [key[len(base):]])
                                      for key, _ in objects])
    parts_bucket, parts_prefix = split_prefix(parts_uri)
    out = SplitInput(parts_uri, [])
    quoted = split.quoted_records(job)
    try:
        for (key, size), count in zip(objects, counts, strict=True):
            rel = key[len(base):]
            bounds = split.cut_points(object_reader(s3, bucket, key), size, count,
                                      quoted=quoted, min_part=MIN_PART, exact=False)
            names = split.part_names(rel, bounds)
            for name, start, end in zip(names, bounds, bounds[1:], strict=False):
                out.made.append(parts_prefix + name)
                copy_range(s3, bucket, key, parts_bucket, parts_prefix + name, start, end)
            out.pieces.append(Piece(rel, names, bounds[:-1], s3_url(bucket, key)))
    except BaseException:
        delete_keys(s3, parts_bucket, out.made)
        raise
    return out


def upload_split(s3: Any, files: Sequence[tuple[Path, str]], input_uri: str,
                 job: TransformJob) -> SplitInput:
    """Upload local ``files`` ((path, key under the input prefix)) to ``input_uri``, cutting
    each as ``part_counts`` says: each part is one upload of a byte range of the file."""
    split.check_splittable(job)
    bucket, prefix = split_prefix(input_uri)
    sizes = [path.stat().st_size for path, _ in files]
    quoted = split.quoted_records(job)
    out = SplitInput(input_uri, [])
    try:
        for (path, rel), size, count in zip(files, sizes,
                                            split.part_counts(sizes, job.instance_count),
                                            strict=True):
            bounds = split.cut_points(split.file_reader(path), size, count, quoted=quoted)
            names = split.part_names(rel, bounds)
            with open(path, "rb") as handle:
                for name, start, end in zip(names, bounds, bounds[1:], strict=False):
                    out.made.append(prefix + name)
                    with call("s3", "PutObject"):
                        s3.upload_fileobj(_Slice(handle, start, end), bucket, prefix + name)
            out.pieces.append(Piece(rel, names, bounds[:-1], str(path)))
    except BaseException:
        delete_keys(s3, bucket, out.made)
        raise
    return out


def join_outputs(s3: Any, staged: SplitInput, output_uri: str) -> list[str]:
    """Join each cut input's part outputs under ``output_uri`` into ``<rel>.out`` (when
    every part has one) and delete the part outputs; returns the joined keys."""
    bucket, prefix = split_prefix(output_uri)
    base = output_base(prefix)
    found = dict(list_objects(s3, output_uri))
    joined: list[str] = []
    leftovers: list[str] = []
    for piece in staged.pieces:
        if not piece.cut:
            continue
        outs = [base + name + ".out" for name in piece.parts]
        leftovers += [k for k in outs if k in found]
        if all(k in found for k in outs):
            target = base + piece.rel + ".out"
            concatenate(s3, bucket, [(k, found[k]) for k in outs], target)
            joined.append(target)
    delete_keys(s3, bucket, leftovers)
    return joined


def remove_parts(s3: Any, staged: SplitInput) -> None:
    """Delete the objects made for the job (the buyer's own input is never among them)."""
    if staged.made:
        bucket, _ = split_prefix(staged.input_uri)
        delete_keys(s3, bucket, staged.made)


def parts_prefix(input_uri: str, s3_uri: str | None, job_name: str) -> str:
    """Where a split S3 input's parts go: ``<--s3-uri>/<job>/split-input/`` when a staging
    prefix is given, else ``smkit-split/<job>/`` in the input's bucket, outside the input."""
    if s3_uri:
        bucket, prefix = split_prefix(s3_uri)
        return s3_url(bucket, "/".join(p for p in (prefix.strip("/"), job_name, "split-input")
                                       if p) + "/")
    bucket, _ = split_prefix(input_uri)
    return s3_url(bucket, f"smkit-split/{job_name}/")


def stage(s3: Any, input_uri: str, files: Sequence[tuple[Path, str]] | None,
          s3_uri: str | None, job_name: str, job: TransformJob, echo: Echo) -> SplitInput:
    """A split job's input: local ``files`` ((path, key)) cut as they are uploaded to
    ``input_uri``, or the objects under ``input_uri`` cut inside S3."""
    if files is not None:
        staged = upload_split(s3, files, input_uri, job)
        echo(f"uploaded {len(files)} input file(s) to {input_uri}")
    else:
        staged = split_s3_input(s3, input_uri, parts_prefix(input_uri, s3_uri, job_name), job)
        if not staged.pieces:
            raise UserError(f"no objects under {input_uri}; check the --input prefix")
    note = staged.describe()
    floor = "" if files is not None else f"; an S3 object is cut only into parts of at " \
        f"least {MIN_PART >> 20} MiB"
    echo(note or f"--split: nothing to cut (each input is about an instance's share or less"
         f"{floor})")
    if job.instance_count > staged.objects:
        echo(f"note: {job.instance_count} instances for {staged.objects} object(s) after "
             f"--split: {job.instance_count - staged.objects} will be idle (and billed); an "
             f"object is cut only into parts of at least {MIN_PART >> 20} MiB")
    return staged


def cleanup(s3: Any, staged: SplitInput, output_uri: str) -> None:
    """Delete what was made for the job: the parts, and any part outputs a failed job left."""
    remove_parts(s3, staged)
    bucket, prefix = split_prefix(output_uri)
    base = output_base(prefix)
    wanted = {base + name + ".out" for p in staged.pieces if p.cut for name in p.parts}
    if wanted:
        delete_keys(s3, bucket, [k for k, _ in list_objects(s3, output_uri) if k in wanted])
