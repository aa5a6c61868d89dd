"""Verify a card offline: python verify_offline.py BUNDLE_DIR ROOT.jwk CARD (text or image)."""

import sys
from pathlib import Path

from asxh_card.errors import VerificationError
from asxh_card.keystore import load_public_key
from asxh_card.verifier import Verifier

bundle_dir, root_file, card = sys.argv[1:4]
# The root public key is pinned (shipped with the app); the bundle comes from `asxh bundle pull`.
root = load_public_key(Path(root_file))
try:
    # A stale or damaged bundle is refused here, with a reason like any invalid card.
    verifier = Verifier.from_directory(bundle_dir, roots=[root])
    # Card text is never probed as a path: a bare token is longer than a file name may be.
    is_text = card.startswith(("asxh:", "eyJ"))
    result = verifier.verify(card) if is_text else verifier.verify_image(card)
except VerificationError as exc:
    print(f"KHÔNG HỢP LỆ ({exc.reason}): {exc.message('vi')}")
    sys.exit(1)

holder = result.holder
print(f"{holder.name}, sinh {holder.date_of_birth:%d/%m/%Y}, do {result.issuer.name} cấp")
for entitlement in result.entitlements:
    print(f"  {entitlement.programme}: {entitlement.state.value}")
if (bhyt := result.bhyt_at()) is not None:
    print(f"  BHYT mức {bhyt.level}, {bhyt.coverage} %, nơi KCB ban đầu {bhyt.facility}")
print("  Được nhận TGXH:", result.may_collect("TGXH", collector=result.holder.asxh_number))
for warning in result.warnings:
    print("  Lưu ý:", warning.message("vi"))
