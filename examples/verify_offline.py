"""Verify a card offline: python verify_offline.py BUNDLE_DIR ROOT.jwk CARD (text or image)."""

import sys

from asxh_card import VerificationError, Verifier, load_public_key

bundle_dir, root_file, card = sys.argv[1:4]
# The root public key is pinned (shipped with the app); the bundle comes from `asxh bundle pull`.
root = load_public_key(root_file)
try:
    # A stale or damaged bundle is refused here: outcome cannot_check (update the data).
    verifier = Verifier.from_directory(bundle_dir, roots=[root])
    # Card text is never probed as a path: a bare token is longer than a file name may be.
    is_text = card.startswith(("asxh:", "eyJ"))
    result = verifier.verify(card) if is_text else verifier.verify_image(card)
except VerificationError as exc:
    # Three outcomes: invalid (exit 1) or cannot check (update the data, exit 3), never mixed up.
    print(f"{exc.headline('vi')} ({exc.reason}): {exc.message('vi')}")
    sys.exit(3 if exc.cannot_check else 1)

holder = result.holder
print(f"{holder.name}, sinh {holder.date_of_birth:%d/%m/%Y}, do {result.issuer.name} cấp")
for entitlement in result.entitlements:
    print(f"  {entitlement.programme}: {entitlement.state.value}")
if (bhyt := result.bhyt_at()) is not None:
    print(f"  BHYT mức {bhyt.level}, {bhyt.coverage} %, nơi KCB ban đầu {bhyt.facility}")
print("  Được nhận TGXH:", result.may_collect("TGXH", collector=result.holder.asxh_number))
for warning in result.warnings:
    print("  Lưu ý:", warning.message("vi"))
