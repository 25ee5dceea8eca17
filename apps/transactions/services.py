"""Writes for the transactions app. The payments ELT pipeline lives in `apps.transactions.ingest`."""

from django.db import transaction

from apps.transactions.models import MerchantCategory


def _mcc_description(mcc) -> str:
    # The ISO text is empty for the reserved ranges (airlines, hotels, car rental chains);
    # the card schemes' own names are the next best official wording.
    for text in (
        mcc.iso_description,
        mcc.visa_description,
        mcc.mastercard_description,
        mcc.usda_description,
        mcc.amex_description,
        mcc.alipay_description,
        mcc.stripe_description,
        mcc.range.description,
    ):
        if text and text.strip():
            return text.strip()[:255]
    return f"MCC {mcc.mcc}"


@transaction.atomic
def merchant_categories_load_official() -> int:
    """Upserts the `iso18245` official list into MerchantCategory in one statement; idempotent.
    Returns how many codes the list holds."""
    import iso18245

    rows = [
        MerchantCategory(code=mcc.mcc, description=_mcc_description(mcc), source="iso18245")
        for mcc in iso18245.get_all_mccs()
    ]
    MerchantCategory.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["code"], update_fields=["description", "source"]
    )
    return len(rows)
