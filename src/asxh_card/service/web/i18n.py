"""The web pages' words: Vietnamese first, English beside, chosen per request.

The catalogue is a plain dict, ``key -> (Vietnamese, English)``; templates call ``t("key")``
(with ``{name}`` fields filled from keyword arguments). A key missing from the catalogue is a
``KeyError`` at render time, and ``tests/web`` checks every ``t("…")`` in the templates, so a
page never shows a raw key. The language is ``?lang=vi|en`` (remembered in the ``asxh_lang``
cookie), else that cookie, else Vietnamese.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from starlette.requests import Request

from asxh_card.service.web.i18n_console import CONSOLE_MESSAGES

__all__ = ["DEFAULT_LANG", "LANGS", "LANG_COOKIE", "MESSAGES", "Translator", "request_lang"]

LANGS: Final = ("vi", "en")
DEFAULT_LANG: Final = "vi"
LANG_COOKIE: Final = "asxh_lang"

#: key -> (Vietnamese, English). Keep keys grouped by page; Vietnamese with full diacritics.
_CORE: Final[Mapping[str, tuple[str, str]]] = {
    # -- layout ------------------------------------------------------------------------------
    "site.name": ("Thẻ An sinh xã hội", "Social-security card"),
    "site.tagline": (
        "Cổng dịch vụ thẻ ASXH điện tử",
        "Electronic ASXH card service",
    ),
    "site.footer": (
        "Dữ liệu cá nhân được bảo vệ theo Luật Bảo vệ dữ liệu cá nhân (Luật số 91/2025/QH15).",
        "Personal data is protected under the Personal Data Protection Law (No. 91/2025/QH15).",
    ),
    "site.demo": (
        "BẢN THỬ NGHIỆM: khóa và dữ liệu chỉ dùng để trình diễn",
        "DEMO: keys and data are for demonstration only",
    ),
    "site.skip": ("Bỏ qua, đến nội dung chính", "Skip to the main content"),
    "lang.switch": ("Ngôn ngữ", "Language"),
    "lang.vi": ("Tiếng Việt", "Tiếng Việt"),
    "lang.en": ("English", "English"),
    "nav.label": ("Điều hướng chính", "Main navigation"),
    "nav.home": ("Trang chủ", "Home"),
    "nav.check": ("Kiểm tra thẻ", "Check a card"),
    "nav.api_docs": ("Tài liệu API", "API documentation"),
    "nav.login": ("Đăng nhập", "Log in"),
    "nav.logout": ("Đăng xuất", "Log out"),
    "nav.signed_in_as": ("Đang đăng nhập: {username}", "Signed in as {username}"),
    # -- roles (Principal.role) --------------------------------------------------------------
    "role.national_admin": ("Quản trị viên quốc gia", "National administrator"),
    "role.issuer_officer": ("Cán bộ cấp thẻ", "Issuing officer"),
    "role.auditor": ("Kiểm toán viên", "Auditor"),
    "role.service_point": ("Điểm dịch vụ", "Service point"),
    "role.national": ("Toàn quốc", "Nationwide"),
    # -- home --------------------------------------------------------------------------------
    "home.title": ("Trang chủ", "Home"),
    "home.welcome": ("Xin chào, {username}", "Welcome, {username}"),
    "home.public_intro": (
        "Kiểm tra thẻ ASXH điện tử tại điểm dịch vụ, hoặc đăng nhập nếu bạn là cán bộ.",
        "Check an electronic ASXH card at a service point, or log in if you are an officer.",
    ),
    "home.officer_intro": (
        "Chọn một mục trong thanh điều hướng để bắt đầu.",
        "Pick an item in the navigation bar to begin.",
    ),
    "home.your_role": ("Vai trò", "Role"),
    "home.your_scope": ("Phạm vi", "Scope"),
    # -- log-in ------------------------------------------------------------------------------
    "login.title": ("Đăng nhập cán bộ", "Officer log-in"),
    "login.username": ("Tên đăng nhập", "User name"),
    "login.password": ("Mật khẩu", "Password"),
    "login.submit": ("Đăng nhập", "Log in"),
    "login.failed": ("Sai tên đăng nhập hoặc mật khẩu.", "Wrong user name or password."),
    "login.limited": (
        "Quá nhiều lần thử. Hãy thử lại sau {seconds} giây.",
        "Too many attempts. Try again in {seconds} seconds.",
    ),
    "login.busy": (
        "Hệ thống đang bận kiểm tra mật khẩu; hãy thử lại sau ít giây.",
        "The service is busy checking passwords; try again in a few seconds.",
    ),
    "login.required": (
        "Hãy đăng nhập để xem trang này.",
        "Log in to see this page.",
    ),
    "login.logged_out": ("Bạn đã đăng xuất.", "You have logged out."),
    "login.expired": (
        "Phiên đăng nhập đã hết hạn hoặc không còn hiệu lực; hãy đăng nhập lại.",
        "Your session has expired or was ended; log in again.",
    ),
    # -- forms -------------------------------------------------------------------------------
    "form.csrf_failed": (
        "Biểu mẫu đã hết hạn hoặc không hợp lệ. Hãy tải lại trang và gửi lại.",
        "The form has expired or is not valid. Reload the page and send it again.",
    ),
    "form.required": ("Bắt buộc", "Required"),
    "form.send": ("Gửi", "Send"),
    "form.cancel": ("Hủy", "Cancel"),
    # -- card check (service points) ---------------------------------------------------------
    "check.title": ("Kiểm tra thẻ ASXH", "Check an ASXH card"),
    "check.intro": (
        "Chụp ảnh mã QR trên thẻ, chọn ảnh có sẵn hoặc dán nội dung mã QR. Không cần đăng nhập.",
        "Take a photo of the card's QR code, pick a picture, or paste the QR text. No log-in.",
    ),
    "check.photo_legend": ("Ảnh mã QR", "Photo of the QR code"),
    "check.camera": ("Chụp ảnh bằng máy ảnh", "Take a photo with the camera"),
    "check.upload": ("Hoặc chọn ảnh có sẵn", "Or pick a picture"),
    "check.photo_hint": (
        "Ảnh JPEG hoặc PNG, tối đa 8 MB; mã QR rõ nét, đủ sáng, chiếm phần lớn ảnh.",
        "JPEG or PNG, at most 8 MB; the QR code sharp, well lit, filling most of the picture.",
    ),
    "check.submit_photo": ("Kiểm tra ảnh", "Check the photo"),
    "check.text_legend": ("Nội dung mã QR", "QR text"),
    "check.text_label": (
        "Dán nội dung đọc được từ mã QR (bắt đầu bằng asxh:/)",
        "Paste the text read from the QR code (it starts with asxh:/)",
    ),
    "check.submit_text": ("Kiểm tra nội dung", "Check the text"),
    "check.again": ("Kiểm tra thẻ khác", "Check another card"),
    "check.valid": ("THẺ HỢP LỆ", "VALID CARD"),
    "check.cannot_check": (
        "CHƯA KIỂM TRA ĐƯỢC THẺ: HÃY CẬP NHẬT DỮ LIỆU",
        "CANNOT CHECK THE CARD: UPDATE THE DATA",
    ),
    "check.cannot_check_hint": (
        "Đây không phải kết luận thẻ không hợp lệ. Hãy cập nhật dữ liệu rồi kiểm tra lại.",
        "This does not mean the card is invalid. Update the data, then check again.",
    ),
    "check.reason": ("Lý do", "Reason"),
    "check.holder": ("Người hưởng", "Holder"),
    "check.date_of_birth": ("Ngày sinh", "Date of birth"),
    "check.sex": ("Giới tính", "Sex"),
    "check.sex.M": ("Nam", "Male"),
    "check.sex.F": ("Nữ", "Female"),
    "check.asxh_number": ("Mã số ASXH", "ASXH number"),
    "check.issuer": ("Cơ quan cấp", "Issuer"),
    "check.card_valid_to": ("Thẻ có hiệu lực đến", "Card valid until"),
    "check.serial": ("Số sê-ri thẻ", "Card serial"),
    "check.programmes": ("Các chế độ trên thẻ", "Programmes on the card"),
    "check.programme": ("Chế độ", "Programme"),
    "check.state": ("Trạng thái", "State"),
    "check.period": ("Thời hạn", "Period"),
    "check.details": ("Chi tiết", "Details"),
    "check.guardian": ("Người giám hộ / được ủy quyền", "Guardian / authorised person"),
    "check.relation.guardian": ("Người giám hộ", "Guardian"),
    "check.relation.authorised": ("Người được ủy quyền", "Authorised person"),
    "check.checked_at": ("Kiểm tra lúc", "Checked at"),
    "check.data_signed_at": (
        "Dữ liệu trạng thái thẻ cập nhật lúc",
        "Card status data updated at",
    ),
    "check.bundle_signed_at": ("Gói dữ liệu tin cậy ký lúc", "Trust bundle signed at"),
    "check.vn_time": ("giờ Việt Nam", "Vietnam time"),
    "check.error.empty": (
        "Hãy chụp ảnh, chọn ảnh hoặc dán nội dung mã QR.",
        "Take a photo, pick a picture or paste the QR text.",
    ),
    "check.error.form": (
        "Không đọc được biểu mẫu gửi lên; hãy thử lại.",
        "The form could not be read; try again.",
    ),
    "check.error.photo_too_large": ("Ảnh lớn hơn 8 MB.", "The photo is larger than 8 MB."),
    "check.error.text_too_large": (
        "Nội dung dán vào quá dài (tối đa 16.384 ký tự).",
        "The pasted text is too long (at most 16,384 characters).",
    ),
    "state.active": ("Đang hưởng", "Active"),
    "state.not_yet_valid": ("Chưa có hiệu lực", "Not yet valid"),
    "state.expired": ("Hết hạn", "Expired"),
    "state.suspended": ("Tạm dừng", "Suspended"),
    "state.revoked": ("Đã thu hồi", "Revoked"),
    "warning.bundle_old": (
        "Gói dữ liệu tin cậy đã lâu chưa cập nhật; hãy đồng bộ sớm.",
        "The trust bundle has not been updated for a while; sync it soon.",
    ),
    "warning.status_list_stale": (
        "Danh sách trạng thái thẻ đã quá cũ; kết quả thu hồi có thể chưa cập nhật.",
        "The status list is out of date; revocations may be missing.",
    ),
    # -- errors ------------------------------------------------------------------------------
    "error.title": ("Có lỗi", "Something went wrong"),
    "error.back_home": ("Về trang chủ", "Back to the home page"),
    "error.request_id": ("Mã yêu cầu (để báo lỗi)", "Request id (to report the error)"),
    "error.status": ("Mã lỗi HTTP {status}", "HTTP status {status}"),
}


#: Every page's words: the foundation's and the console's (``i18n_console.py``).
MESSAGES: Final[Mapping[str, tuple[str, str]]] = {**_CORE, **CONSOLE_MESSAGES}


def request_lang(request: Request) -> str:
    """The language of ``request``: ``?lang=``, else the cookie, else Vietnamese."""
    for value in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if value in LANGS:
            return value
    return DEFAULT_LANG


class Translator:
    """``t(key, **fields)`` in one language (templates get it as ``t``)."""

    __slots__ = ("lang",)

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGS else DEFAULT_LANG

    def __call__(self, key: str, **fields: object) -> str:
        """The text of ``key`` in this language, with ``{field}`` placeholders filled."""
        vi, en = MESSAGES[key]
        text = vi if self.lang == "vi" else en
        return text.format(**fields) if fields else text
