"""The officer console's words (merged into :data:`asxh_card.service.web.i18n.MESSAGES`).

``key -> (Vietnamese, English)``, grouped by page. Vietnamese with full diacritics; the words
of the law where there is one (mã số ASXH, số định danh cá nhân, chế độ được hưởng).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["CONSOLE_MESSAGES"]

CONSOLE_MESSAGES: Final[Mapping[str, tuple[str, str]]] = {
    # -- navigation --------------------------------------------------------------------------
    "nav.persons": ("Tra cứu người hưởng", "Find a person"),
    "nav.register": ("Đăng ký", "Register"),
    "nav.reconciliations": ("Đối chiếu", "Reconciliations"),
    "nav.imports": ("Nhập danh sách", "Bulk import"),
    "nav.dashboard": ("Thống kê", "Statistics"),
    "nav.audit": ("Nhật ký kiểm toán", "Audit trail"),
    # -- shared ------------------------------------------------------------------------------
    "console.form_invalid": ("Biểu mẫu chưa hợp lệ.", "The form is not valid."),
    "console.action": ("Thao tác", "Action"),
    "console.reason": ("Lý do", "Reason"),
    "console.note": ("Ghi chú (không in lên thẻ)", "Note (never printed on the card)"),
    "console.apply": ("Thực hiện", "Apply"),
    "console.state.active": ("Đang hiệu lực", "Active"),
    "console.state.suspended": ("Tạm dừng", "Suspended"),
    "console.state.revoked": ("Đã thu hồi", "Revoked"),
    "console.state.ended": ("Đã kết thúc", "Ended"),
    "action.suspend": ("Tạm dừng", "Suspend"),
    "action.revoke": ("Thu hồi", "Revoke"),
    "action.reinstate": ("Khôi phục", "Reinstate"),
    "reason.lost": ("Mất thẻ", "Lost"),
    "reason.stolen": ("Bị lấy cắp", "Stolen"),
    "reason.damaged": ("Thẻ hư hỏng", "Damaged"),
    "reason.deceased": ("Người hưởng đã mất", "Holder deceased"),
    "reason.fraud": ("Gian lận", "Fraud"),
    "reason.eligibility_ended": ("Hết điều kiện hưởng", "No longer eligible"),
    "reason.data_error": ("Sai thông tin", "Data error"),
    "reason.superseded": ("Đã cấp thẻ mới thay thế", "Superseded by a new card"),
    "reason.moved": ("Chuyển nơi cư trú", "Moved"),
    "reason.under_review": ("Đang xem xét", "Under review"),
    "reason.other": ("Lý do khác", "Other"),
    "sex.M": ("Nam", "Male"),
    "sex.F": ("Nữ", "Female"),
    "alias.cmnd": ("CMND", "CMND"),
    "alias.bhxh": ("Mã số BHXH", "BHXH number"),
    "alias.bhyt": ("Mã thẻ BHYT", "BHYT card code"),
    "relation.guardian": ("Người giám hộ", "Guardian"),
    "relation.authorised": ("Người được ủy quyền", "Authorised person"),
    # -- fields ------------------------------------------------------------------------------
    "field.asxh_number": ("Mã số ASXH", "ASXH number"),
    "field.pin": ("Số định danh cá nhân (CCCD)", "Personal ID number (CCCD)"),
    "field.pin_masked": ("Số định danh (che)", "Personal ID (masked)"),
    "field.full_name": ("Họ và tên", "Full name"),
    "field.date_of_birth": ("Ngày sinh", "Date of birth"),
    "field.sex": ("Giới tính", "Sex"),
    "field.hometown": ("Quê quán", "Hometown"),
    "field.permanent_address": ("Nơi thường trú", "Permanent address"),
    "field.commune": ("Xã, phường", "Commune"),
    "field.province": ("Tỉnh/thành phố (mã 2 số)", "Province (2-digit code)"),
    "field.programme": ("Chế độ", "Programme"),
    "field.valid_from": ("Ngày bắt đầu", "Valid from"),
    "field.valid_to": ("Ngày kết thúc", "Valid to"),
    "field.end_date": ("Ngày kết thúc", "End date"),
    "field.attributes": ("Thông tin chế độ", "Programme details"),
    "field.category": ("Diện đối tượng", "Category"),
    "field.bhyt_group": ("Nhóm đối tượng BHYT", "BHYT beneficiary group"),
    "field.reason_code": ("Lý do", "Reason"),
    "field.note": ("Ghi chú", "Note"),
    "field.guardian": ("Người giám hộ", "Guardian"),
    "field.name": ("Họ và tên", "Name"),
    "field.action": ("Thao tác", "Action"),
    "field.fields": ("Các trường", "Fields"),
    "attr.amount": ("Số tiền hằng tháng (đồng)", "Monthly amount (VND)"),
    "attr.level": ("Mức hưởng (1-5)", "Benefit level (1-5)"),
    "attr.coverage": ("Tỷ lệ chi trả (%)", "Coverage (%)"),
    "attr.facility": ("Nơi KCB ban đầu (vd. 79-001)", "Primary-care facility (e.g. 79-001)"),
    "attr.kind": ("Loại", "Kind"),
    "attr.household": ("Mã hộ", "Household reference"),
    "attrval.poor": ("Hộ nghèo", "Poor household"),
    "attrval.near_poor": ("Hộ cận nghèo", "Near-poor household"),
    "attrval.participant": ("Người tham gia", "Participant"),
    "attrval.pensioner": ("Người hưởng lương hưu", "Pensioner"),
    # -- find a person -----------------------------------------------------------------------
    "persons.title": ("Tra cứu người hưởng", "Find a person"),
    "persons.scope_hint": (
        "Chỉ tìm thấy người thuộc phạm vi tài khoản của bạn.",
        "Only people within your account's scope are found.",
    ),
    "persons.by_number": ("Theo mã số ASXH", "By ASXH number"),
    "persons.by_pin": ("Theo số định danh cá nhân", "By personal ID number"),
    "persons.pin_hint": (
        "Số định danh chỉ được gửi trong biểu mẫu, không hiện trên địa chỉ trang.",
        "The ID number is sent in the form only, never in the page address.",
    ),
    "persons.by_name": ("Theo họ tên và ngày sinh", "By name and date of birth"),
    "persons.name_hint": (
        "Không phân biệt chữ hoa, chữ thường; gõ không dấu sẽ tìm mọi cách viết có dấu.",
        "Case does not matter; typed without diacritics it finds every spelling with them.",
    ),
    "persons.find": ("Tìm", "Find"),
    "persons.not_found": (
        "Không tìm thấy người nào trong phạm vi của bạn.",
        "No one found within your scope.",
    ),
    "persons.results": ("Tìm thấy {count} người", "{count} people found"),
    # -- register ----------------------------------------------------------------------------
    "register.title": ("Đăng ký người hưởng", "Register a person"),
    "register.scan_title": ("1. Quét mã QR trên CCCD", "1. Scan the CCCD QR code"),
    "register.scan_hint": (
        (
            "Quét mã QR ở mặt trước thẻ CCCD gắn chip bằng máy quét (con trỏ trong ô bên dưới), "
            "hoặc dán nội dung đã đọc. Các trường sẽ được điền sẵn để bạn đối chiếu với thẻ."
        ),
        (
            "Scan the QR code on the front of the chip CCCD with a scanner (cursor in the box "
            "below), or paste the text read from it. The form is filled in for you to check "
            "against the card."
        ),
    ),
    "register.qr_text": ("Nội dung mã QR", "QR text"),
    "register.photo": ("Hoặc chụp ảnh mã QR trên CCCD", "Or take a photo of the CCCD QR code"),
    "register.photo_hint": (
        (
            "Ảnh JPEG hoặc PNG, tối đa 8 MB; mã QR rõ nét, đủ sáng. Ảnh chỉ dùng để đọc mã, không "
            "được lưu lại."
        ),
        (
            "JPEG or PNG, at most 8 MB; the QR code sharp and well lit. The photo is only read, "
            "never kept."
        ),
    ),
    "register.scan_submit": ("Điền từ mã QR", "Fill in from the QR"),
    "register.scanned": (
        "Đã điền từ mã QR. Hãy đối chiếu với thẻ rồi bấm Đăng ký.",
        "Filled in from the QR. Check against the card, then press Register.",
    ),
    "register.data_title": ("2. Thông tin người hưởng", "2. The person's data"),
    "register.hint": (
        (
            "Cùng một số định danh luôn nhận cùng một mã số ASXH. Nếu dữ liệu khác với dữ liệu đã "
            "lưu, hệ thống mở yêu cầu đối chiếu thay vì ghi đè."
        ),
        (
            "The same ID number always gets the same ASXH number. Data that differ from the "
            "stored data open a reconciliation instead of overwriting."
        ),
    ),
    "register.submit": ("Đăng ký", "Register"),
    # -- person page -------------------------------------------------------------------------
    "person.open_reconciliation": (
        "Có dữ liệu đăng ký khác với dữ liệu đang lưu.",
        "A registration differs from the stored data.",
    ),
    "person.resolve_reconciliation": ("Xử lý đối chiếu số {id}", "Resolve reconciliation {id}"),
    "person.no_pin": ("chưa có", "none yet"),
    "person.provisional": ("Đăng ký tạm", "Provisional"),
    "person.provisional_hint": (
        "Chưa có số định danh; mã số ASXH giữ nguyên khi bổ sung.",
        "No ID number yet; the ASXH number stays when it is added.",
    ),
    "person.aliases": ("Mã cũ", "Legacy identifiers"),
    "person.province": ("Tỉnh/thành phố", "Province"),
    "person.registered_at": ("Đăng ký lúc", "Registered at"),
    "person.entitlements": ("Chế độ được hưởng", "Entitlements"),
    "person.no_entitlements": ("Chưa có chế độ nào.", "No entitlement yet."),
    "person.cards": ("Thẻ đã cấp", "Cards issued"),
    "person.no_cards": ("Chưa cấp thẻ nào.", "No card issued yet."),
    "ent.programme": ("Chế độ", "Programme"),
    "ent.period": ("Thời hạn", "Period"),
    "ent.details": ("Chi tiết", "Details"),
    "ent.state": ("Trạng thái", "State"),
    "ent.group": ("Nhóm đối tượng BHYT", "BHYT group"),
    "ent.category": ("Diện đối tượng (không in lên thẻ)", "Category (never on the card)"),
    "ent.open_ended": ("không thời hạn", "open-ended"),
    "ent.change": ("Thay đổi chế độ {programme}", "Change {programme}"),
    "ent.update": ("Cập nhật", "Update"),
    "ent.update_submit": ("Lưu thay đổi", "Save changes"),
    "ent.reissue_hint": (
        "Sau khi thay đổi, hãy cấp lại thẻ để thẻ ghi thông tin mới.",
        "After a change, issue the card again so that it carries the new data.",
    ),
    "ent.status": ("Tạm dừng, thu hồi, khôi phục", "Suspend, revoke, reinstate"),
    "ent.end": ("Kết thúc chế độ", "End the entitlement"),
    "ent.end_date": ("Ngày kết thúc (tính cả ngày này)", "Last day (inclusive)"),
    "ent.end_hint": (
        "Ngày kết thúc là hôm nay hoặc trước đó thì chế độ trên thẻ đã cấp bị thu hồi ngay.",
        "An end date of today or earlier revokes it on the cards already issued at once.",
    ),
    "ent.end_submit": ("Kết thúc", "End"),
    "ent.valid_from": ("Ngày bắt đầu", "Valid from"),
    "ent.valid_to": ("Ngày kết thúc", "Valid to"),
    "grant.title": ("Cấp chế độ mới", "Grant a programme"),
    "grant.group_hint": (
        "Chọn nhóm đối tượng thì mức hưởng và tỷ lệ chi trả được tính theo nhóm.",
        "With a group, the level and coverage follow from it.",
    ),
    "grant.level_hint": (
        "Bỏ trống khi đã chọn nhóm đối tượng.",
        "Leave empty when a group is chosen.",
    ),
    "grant.category_hint": (
        "Thông tin nhạy cảm: chỉ lưu trong hệ thống, không bao giờ in lên thẻ.",
        "Sensitive: stored in the service only, never printed on a card.",
    ),
    "grant.submit": ("Cấp chế độ {programme}", "Grant {programme}"),
    # -- cards -------------------------------------------------------------------------------
    "card.title": ("Thẻ {serial}", "Card {serial}"),
    "card.serial": ("Số sê-ri", "Serial"),
    "card.issuer": ("Cơ quan cấp", "Issuer"),
    "card.issued_at": ("Ngày cấp", "Issued"),
    "card.expires_at": ("Hết hạn", "Expires"),
    "card.programmes": ("Chế độ trên thẻ", "Programmes on the card"),
    "card.downloads": ("Tải về", "Download"),
    "card.card_png": ("Ảnh thẻ (PNG)", "Card image (PNG)"),
    "card.qr_png": ("Mã QR (PNG)", "QR code (PNG)"),
    "card.print_pdf": ("Bản in (PDF)", "Print sheet (PDF)"),
    "card.preview_alt": ("Ảnh thẻ ASXH của {name}", "ASXH card of {name}"),
    "card.replaces": ("Thay cho thẻ", "Replaces"),
    "card.replaced_by": ("Đã được thay bằng thẻ", "Replaced by"),
    "card.actions": ("Thao tác với thẻ", "Card actions"),
    "card.change_state": ("Tạm dừng, thu hồi, khôi phục thẻ", "Suspend, revoke, reinstate"),
    "card.state_hint": (
        "Thay đổi có hiệu lực ngay trong danh sách trạng thái thẻ mà các điểm kiểm tra tải về.",
        "The change is in the status list that checking points download, at once.",
    ),
    "card.replace": ("Cấp lại thẻ", "Replace the card"),
    "card.replace_hint": (
        "Thẻ mới có số sê-ri mới, ghi các chế độ hiện hưởng; thẻ cũ bị thu hồi.",
        "The new card has a new serial and the current entitlements; the old one is revoked.",
    ),
    "card.replace_submit": ("Cấp lại", "Replace"),
    "card.issue_title": ("Cấp thẻ", "Issue a card"),
    "card.issue_hint": (
        "Thẻ ghi mọi chế độ đang hưởng; thẻ đang dùng của cùng cơ quan cấp được thay thế.",
        (
            "The card carries every current entitlement; the current card of the same issuer is "
            "superseded."
        ),
    ),
    "card.guardian": ("Người giám hộ hoặc được ủy quyền (nếu có)", "Guardian or authorised person"),
    "card.guardian_number": ("Mã số ASXH của người giám hộ", "Guardian's ASXH number"),
    "card.guardian_name": ("Họ và tên người giám hộ", "Guardian's full name"),
    "card.guardian_relation": ("Quan hệ", "Relation"),
    "card.issue_submit": ("Cấp thẻ", "Issue the card"),
    # -- reconciliations ---------------------------------------------------------------------
    "rec.title": ("Yêu cầu đối chiếu", "Reconciliations"),
    "rec.intro": (
        "Các lần đăng ký có dữ liệu khác với dữ liệu đang lưu, chờ cán bộ quyết định.",
        "Registrations whose data differ from the stored data, waiting for a decision.",
    ),
    "rec.none": ("Không có yêu cầu nào đang chờ.", "Nothing is waiting."),
    "rec.fields": ("Trường khác nhau", "Differing fields"),
    "rec.created": ("Tạo lúc", "Opened"),
    "rec.one_title": ("Đối chiếu số {id}", "Reconciliation {id}"),
    "rec.explain": (
        "Dữ liệu đang lưu không bị ghi đè cho đến khi bạn chấp nhận.",
        "The stored data are not overwritten until you accept.",
    ),
    "rec.take": ("Lấy", "Take"),
    "rec.field": ("Trường", "Field"),
    "rec.current": ("Đang lưu", "Stored"),
    "rec.submitted": ("Mới gửi", "Submitted"),
    "rec.take_hint": (
        (
            "Chấp nhận: lấy các trường đã đánh dấu (không đánh dấu: lấy tất cả). Từ chối: giữ dữ "
            "liệu đang lưu."
        ),
        "Accept: take the ticked fields (none ticked: all of them). Reject: keep the stored data.",
    ),
    "rec.accept": ("Chấp nhận", "Accept"),
    "rec.reject": ("Từ chối", "Reject"),
    "rec.state.open": ("Đang chờ", "Open"),
    "rec.state.resolved": ("Đã xử lý", "Resolved"),
    "rec.resolution.accept": ("chấp nhận", "accepted"),
    "rec.resolution.reject": ("từ chối", "rejected"),
    # -- arrival messages --------------------------------------------------------------------
    "done.registered": ("Đã đăng ký.", "Registered."),
    "done.existing": (
        "Người này đã được đăng ký với cùng dữ liệu.",
        "This person was already registered with the same data.",
    ),
    "done.granted": ("Đã cấp chế độ.", "Entitlement granted."),
    "done.updated": ("Đã cập nhật chế độ.", "Entitlement updated."),
    "done.ended": ("Đã kết thúc chế độ.", "Entitlement ended."),
    "done.entitlement_changed": ("Đã thay đổi trạng thái chế độ.", "Entitlement state changed."),
    "done.issued": ("Đã cấp thẻ.", "Card issued."),
    "done.replaced": (
        "Đã cấp lại thẻ; thẻ cũ đã bị thu hồi.",
        "Card replaced; the old one is revoked.",
    ),
    "done.card_changed": ("Đã thay đổi trạng thái thẻ.", "Card state changed."),
    "done.resolved": ("Đã xử lý yêu cầu đối chiếu.", "Reconciliation resolved."),
    # -- bulk import -------------------------------------------------------------------------
    "imports.title": ("Nhập danh sách", "Bulk import"),
    "imports.upload": ("Tải lên danh sách", "Upload a list"),
    "imports.upload_hint": (
        (
            "Tệp CSV hoặc XLSX theo mẫu của asxh import (tối đa 512 MiB). Mỗi dòng hợp lệ được "
            "đăng ký, cấp chế độ và cấp thẻ; tải lại cùng tệp sẽ tiếp tục, không cấp trùng."
        ),
        (
            "A CSV or XLSX file in the asxh import layout (at most 512 MiB). Every valid row is "
            "registered, granted and issued a card; the same file again resumes, never twice."
        ),
    ),
    "imports.file": ("Tệp danh sách", "List file"),
    "imports.submit": ("Tải lên và nhập", "Upload and import"),
    "imports.jobs": ("Các lượt nhập gần đây", "Recent imports"),
    "imports.none": ("Chưa có lượt nhập nào.", "No import yet."),
    "imports.filename": ("Tệp", "File"),
    "imports.progress": ("Tiến độ", "Progress"),
    "imports.started": ("Người tải lên", "Uploaded by"),
    "imports.job_title": ("Lượt nhập số {id}", "Import {id}"),
    "imports.rows": ("{done}/{total} dòng ({percent}%)", "{done}/{total} rows ({percent}%)"),
    "imports.rate": ("{rate} dòng/giây", "{rate} rows/s"),
    "imports.eta": ("còn khoảng {seconds} giây", "about {seconds} s left"),
    "imports.refreshing": (
        "Trang tự cập nhật mỗi 2 giây cho đến khi xong.",
        "The page refreshes itself every 2 seconds until the import stops.",
    ),
    "imports.counts": ("Kết quả", "Results"),
    "imports.count.people_created": ("Người đăng ký mới", "People registered"),
    "imports.count.people_existing": ("Người đã có", "Already registered"),
    "imports.count.reconciliations": ("Cần đối chiếu", "Reconciliations"),
    "imports.count.entitlements_granted": ("Chế độ đã cấp", "Entitlements granted"),
    "imports.count.cards_issued": ("Thẻ đã cấp", "Cards issued"),
    "imports.count.rows_rejected": ("Dòng bị từ chối", "Rows rejected"),
    "imports.errors": ("Tải báo cáo lỗi (CSV)", "Download the error report (CSV)"),
    "imports.errors_hint": (
        (
            "Mỗi dòng bị từ chối kèm lý do bằng tiếng Việt và tiếng Anh; báo cáo không chứa "
            "dữ liệu cá nhân của dòng."
        ),
        (
            "Each rejected row with the reason in Vietnamese and English; the report holds none of "
            "the row's personal data."
        ),
    ),
    "imports.state.queued": ("Đang chờ", "Queued"),
    "imports.state.running": ("Đang nhập", "Running"),
    "imports.state.done": ("Hoàn thành", "Done"),
    "imports.state.failed": ("Bị dừng do lỗi", "Failed"),
    # -- dashboard ---------------------------------------------------------------------------
    "dash.title": ("Thống kê", "Statistics"),
    "dash.scope_all": ("Toàn quốc.", "All provinces."),
    "dash.scope": ("Tỉnh/thành phố: {provinces}.", "Province: {provinces}."),
    "dash.filter": ("Xem", "Show"),
    "dash.by_month": (
        "Người đăng ký và thẻ cấp theo tháng (12 tháng gần nhất)",
        "People registered and cards issued by month (last 12 months)",
    ),
    "dash.changes": (
        "Thẻ cấp lại, thu hồi, tạm dừng theo tháng",
        "Cards replaced, revoked, suspended by month",
    ),
    "dash.entitlements": ("Chế độ đang hưởng", "Active entitlements"),
    "dash.card_states": ("Thẻ theo trạng thái", "Cards by state"),
    "dash.by_province": ("Theo tỉnh/thành phố", "By province"),
    "dash.empty": ("Chưa có số liệu.", "No figures yet."),
    "dash.counts_only": (
        "Chỉ có số đếm; không có tên hay mã số của ai (báo cáo 6 tháng và hằng năm).",
        "Counts only; no one's name or number (six-monthly and yearly reports).",
    ),
    "dash.metric.people_registered": ("Người đăng ký", "People registered"),
    "dash.metric.cards_issued": ("Thẻ đã cấp", "Cards issued"),
    "dash.metric.cards_replaced": ("Thẻ cấp lại", "Cards replaced"),
    "dash.metric.cards_revoked": ("Thẻ thu hồi", "Cards revoked"),
    "dash.metric.cards_suspended": ("Thẻ tạm dừng", "Cards suspended"),
    # -- audit trail -------------------------------------------------------------------------
    "audit.title": ("Nhật ký kiểm toán", "Audit trail"),
    "audit.intro": (
        (
            "Ai đã làm gì, với đối tượng nào, khi nào (giờ Việt Nam). Không bao giờ có số định "
            "danh hay họ tên. Nhật ký là chuỗi băm có chữ ký: asxh audit verify kiểm tra toàn bộ."
        ),
        (
            "Who did what to which object, and when (Vietnam time). Never an ID number or a name. "
            "The log is a signed hash chain: asxh audit verify checks all of it."
        ),
    ),
    "audit.at": ("Thời điểm", "When"),
    "audit.actor": ("Người thực hiện", "Who"),
    "audit.action": ("Thao tác", "Action"),
    "audit.object": ("Đối tượng", "Object"),
    "audit.none": ("Chưa có mục nào.", "No entries."),
    "audit.pages": ("Trang nhật ký", "Log pages"),
    "audit.newest": ("Mới nhất", "Newest"),
    "audit.older": ("Cũ hơn", "Older"),
}
