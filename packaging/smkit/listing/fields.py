"""The one map between ``listing.yaml`` fields and the Catalog API change details they fill.

Each ``Field`` says where a listing.yaml field lands in one change type's details. It is read
both ways: ``fill`` copies the listing into the details (``changesets``), and ``lookup`` goes
from a place in the details back to the listing.yaml field the seller wrote, so that a
violation of an AWS rule is reported there (``validate``). A field whose value the builder
computes (text smkit appends, the offer's terms, the rate card) says why in ``computed``: its
value comes from the builder, its way back from here.

Paths are dotted keys. ``[0]`` is the one item the builder makes (``DeliveryOptions[0]``);
``[]`` maps item by item the listing.yaml list at the ``[]`` of the yaml path, so
``AdditionalResources[].Url`` <- ``product.additional_resources[].url``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Literal

from pydantic import BaseModel


@dataclass(frozen=True)
class Field:
    """A place in a change's details and the listing.yaml field it comes from."""

    change: str
    aws: str
    yaml: str
    #: Why the builder computes the value rather than copying ``yaml`` ("" for a copy).
    computed: str = ""
    #: Left out of the details when the value is None ("none") or empty ("empty").
    omit: Literal["", "none", "empty"] = ""
    #: Said after every violation reported under this field.
    note: str = ""


#: Where AddDeliveryOptions' one SageMaker model package option is.
OPTION = "DeliveryOptions[0].Details.SageMakerModelPackageDeliveryOptionDetails."
_O = OPTION
_INFO, _ADD = "UpdateInformation", "AddDeliveryOptions"
_PRICING, _LEGAL, _SUPPORT = "UpdatePricingTerms", "UpdateLegalTerms", "UpdateSupportTerms"


def _parameters(aws: str, yaml: str) -> list[Field]:
    """An input parameter or custom attribute list. A parameter without Constraints leaves it
    out: AWS refuses an empty one."""
    return [Field(_ADD, f"{aws}[].Name", f"{yaml}[].name"),
            Field(_ADD, f"{aws}[].Description", f"{yaml}[].description"),
            Field(_ADD, f"{aws}[].Constraints", f"{yaml}[].constraints", omit="none"),
            Field(_ADD, f"{aws}[].Required", f"{yaml}[].required")]


#: Every field, in the order the details hold them.
FIELDS: tuple[Field, ...] = (
    Field(_INFO, "ProductTitle", "product.title"),
    Field(_INFO, "ShortDescription", "product.short_description"),
    Field(_INFO, "LongDescription", "product.long_description",
          computed="the seller's text, then the model facts (model.long_description)",
          note=" (LongDescription includes the model facts smkit appends: accuracy, "
               "performance, training data)"),
    Field(_INFO, "Highlights[]", "product.highlights[]"),
    Field(_INFO, "Categories[]", "product.categories[]"),
    Field(_INFO, "SearchKeywords[]", "product.keywords[]"),
    Field(_INFO, "LogoUrl", "product.logo_url"),
    Field(_INFO, "VideoUrls[]", "product.video_urls[]"),
    Field(_INFO, "AdditionalResources[].Text", "product.additional_resources[].text"),
    Field(_INFO, "AdditionalResources[].Url", "product.additional_resources[].url"),
    Field(_INFO, "SupportDescription", "support.description"),
    Field(_INFO, "Sku", "product.sku", omit="empty"),
    Field(_ADD, "Version.VersionTitle", "delivery.version_title"),
    Field(_ADD, "Version.ReleaseNotes", "delivery.release_notes"),
    Field(_ADD, _O + "SageMakerModelPackageArn", "delivery.model_package_arn"),
    Field(_ADD, _O + "AccessRoleArn", "delivery.access_role_arn"),
    Field(_ADD, _O + "UsageInstructions", "delivery.usage_instructions"),
    Field(_ADD, _O + "SampleNotebookUrl", "delivery.sample_notebook_url"),
    Field(_ADD, _O + "InputProperties.Description", "delivery.input.description",
          computed="the seller's text, then the content types"),
    Field(_ADD, _O + "InputProperties.Limitations", "delivery.input.limitations", omit="none"),
    Field(_ADD, _O + "InputProperties.SampleInput", "delivery.input.sample_file",
          computed="the sample file's text, for real-time and batch"),
    *_parameters(_O + "InputProperties.Parameters", "delivery.input.parameters"),
    *_parameters(_O + "InputProperties.SageMakerCustomAttributes",
                 "delivery.input.custom_attributes"),
    Field(_ADD, _O + "OutputProperties.Description", "delivery.output.description",
          computed="the seller's text, then the content types"),
    Field(_ADD, _O + "OutputProperties.SampleOutput", "delivery.output.sample_file",
          computed="the sample file's text, for real-time and batch"),
    Field(_ADD, _O + "OutputProperties.Parameters[].Name", "delivery.output.parameters[].name"),
    Field(_ADD, _O + "OutputProperties.Parameters[].Description",
          "delivery.output.parameters[].description"),
    Field(_ADD, _O + "OutputProperties.Parameters[].AlwaysReturned",
          "delivery.output.parameters[].always_returned"),
    Field(_ADD, _O + "RecommendedInstanceTypes.RealtimeInference",
          "delivery.recommended_instance_types.realtime"),
    Field(_ADD, _O + "RecommendedInstanceTypes.BatchTransform",
          "delivery.recommended_instance_types.batch"),
    Field(_ADD, _O + "RepositoryUrl", "delivery.repository_url", omit="none"),
    Field("UpdateTargeting", "PositiveTargeting.BuyerAccounts[]", "buyer_accounts[]"),
    # The offer's terms are built whole by changesets.pricing_details, legal_details and
    # support_details; these are their ways back.
    Field(_PRICING, "Terms[0].CurrencyCode", "pricing.currency", computed="the usage term"),
    Field(_PRICING, "Terms[0].RateCards", "pricing",
          computed="the rate card: a price per instance type and mode (changesets.rate_card)"),
    Field(_PRICING, "Terms[1].Duration", "pricing.free_trial_days",
          computed="the free trial term: P<days>D"),
    Field(_PRICING, "Terms[1].Grants", "pricing",
          computed="the free trial term grants every dimension of the rate card"),
    Field(_LEGAL, "Terms[0].Documents[0].Url", "eula.url",
          computed="a custom EULA's document"),
    Field(_SUPPORT, "Terms[0].RefundPolicy", "support.refund_policy",
          computed="the support term"),
    Field("UpdateVisibility", "TargetVisibility", "visibility",
          computed="Public, sent on release of a Public listing"),
)

#: Where in listing.yaml the rest of a change type's details comes from.
SECTIONS = {_ADD: "delivery", _PRICING: "pricing", _LEGAL: "eula", _SUPPORT: "support",
            "UpdateVisibility": "visibility"}

#: Change types whose details are another's: the fields of that one apply.
SAME_FIELDS = {"UpdateDeliveryOptions": _ADD}

_TOKEN = re.compile(r"\[(\d*)\]|\.?([^.\[]+)")
Token = str | int | None  # a key, a fixed index, or None for "[]" (item by item)


def _tokens(path: str) -> list[Token]:
    """``A.B[0].C[]`` -> ``["A", "B", 0, "C", None]``."""
    out: list[Token] = []
    for m in _TOKEN.finditer(path):
        index, key = m.groups()
        out.append(key if key is not None else (int(index) if index else None))
    return out


def _reach(node: Any, tokens: list[Token],
           at: tuple[int, ...] = ()) -> Iterator[tuple[tuple[int, ...], Any, bool]]:
    """(indices taken at each ``[]``, value, found) for every value a yaml path reaches;
    an empty list at a ``[]`` yields its indices so far with ``found`` False."""
    if not tokens:
        yield at, node, True
        return
    head, rest = tokens[0], tokens[1:]
    if head is None:
        if not node:
            yield at, None, False
        for i, item in enumerate(node):
            yield from _reach(item, rest, (*at, i))
    elif isinstance(head, int):
        yield from _reach(node[head], rest, at)
    else:
        yield from _reach(getattr(node, head), rest, at)


def value_at(listing: BaseModel, path: str) -> Any:
    """The value at a listing.yaml path without ``[]`` (``delivery.input.description``)."""
    [(_, value, _)] = _reach(listing, _tokens(path))
    return value


def _put(doc: dict[str, Any], tokens: list[Token], value: Any, *, keep: bool = False) -> None:
    """Set ``value`` at ``tokens`` (keys and fixed indices), making dicts and lists on the
    way; with ``keep``, a value already there stays."""
    node: Any = doc
    for head, nxt in pairwise(tokens):
        new: Any = {} if isinstance(nxt, str) else []
        if isinstance(head, int):
            if head == len(node):
                node.append(new)
        else:
            node.setdefault(head, new)
        node = node[head]
    last = tokens[-1]
    if isinstance(last, int) and last == len(node):
        node.append(value)
    elif not (keep and last in node):
        node[last] = value


def fields(change: str) -> list[Field]:
    """The fields of one change type, in order."""
    change = SAME_FIELDS.get(change, change)
    return [f for f in FIELDS if f.change == change]


def fill(listing: BaseModel, change: str,
         computed: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A change's details: each copied field read from the listing, each computed one taken
    from ``computed`` (AWS path -> value), in ``FIELDS`` order."""
    computed = dict(computed or {})
    wanted = {f.aws for f in fields(change) if f.computed}
    if wanted != computed.keys():
        raise ValueError(f"{change}: computed fields {sorted(wanted)}, given {sorted(computed)}")
    details: dict[str, Any] = {}
    for f in fields(change):
        aws = _tokens(f.aws)
        if f.computed:
            reached: Iterator[tuple[tuple[int, ...], Any, bool]] = iter(
                [((), computed[f.aws], True)])
        else:
            reached = _reach(listing, _tokens(f.yaml))
        for at, value, found in reached:
            indices = iter(at)
            concrete: list[Token] = []
            for t in aws:
                if t is None:
                    i = next(indices, None)
                    if i is None:  # an empty list: the details hold [] there
                        break
                    t = i
                concrete.append(t)
            if not found:
                _put(details, concrete, [], keep=True)
            elif not ((f.omit == "none" and value is None) or (f.omit == "empty" and not value)):
                _put(details, concrete, value)
    return details


Reverse = list[tuple[re.Pattern[str], str, Field]]


def _reverse_entry(f: Field) -> tuple[re.Pattern[str], str, Field]:
    """``f.aws`` as a regex (each ``[]`` captured, a fixed index any index, ending at a
    whole name) and ``f.yaml`` as the template its match expands."""
    groups = iter(range(1, f.aws.count("[]") + 1))
    regex = "".join(
        r"(\[\d+\])?" if t is None else r"\[\d+\]" if isinstance(t, int)
        else ("" if i == 0 else r"\.") + re.escape(t)
        for i, t in enumerate(_tokens(f.aws)))
    template = re.sub(r"\[\]", lambda _: f"\\{next(groups)}", f.yaml)
    return re.compile(regex + r"(?!\w)"), template, f


def _reverse() -> dict[str, Reverse]:
    """Per change type, the way back of every field, then of every list of objects as a
    whole (``AdditionalResources[2]`` -> ``product.additional_resources``)."""
    fields_back: dict[str, Reverse] = {}
    lists_back: dict[str, dict[str, tuple[re.Pattern[str], str, Field]]] = {}
    for f in FIELDS:
        fields_back.setdefault(f.change, []).append(_reverse_entry(f))
        aws_list, sep, _ = f.aws.rpartition("[].")
        if sep:
            whole = Field(f.change, aws_list, f.yaml.rpartition("[].")[0], f.computed)
            lists_back.setdefault(f.change, {}).setdefault(aws_list, _reverse_entry(whole))
    return {change: entries + list(lists_back.get(change, {}).values())
            for change, entries in fields_back.items()}


_REVERSE = _reverse()


def lookup(change: str, where: str) -> tuple[Field, str] | None:
    """The field a place in a change's details comes from, and its listing.yaml path
    (with the place's list indices): ``Highlights[1]`` -> ``product.highlights[1]``."""
    for regex, template, f in _REVERSE.get(SAME_FIELDS.get(change, change), []):
        m = regex.match(where)
        if m:
            return f, m.expand(template)
    return None
