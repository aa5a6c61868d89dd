"""Administrative-unit tables: current provinces, historical birth provinces, country codes.

Three tables, never mixed (reference/domain-vn.md §1.4, §1.5, §5.2):

* :data:`CURRENT_PROVINCES`: the 34 provincial units in force since 1 July 2025 (2-digit code to
  Vietnamese name). A mã số ASXH starts with one of these codes (DESIGN.md §1).
* :data:`BIRTH_PROVINCES`: the 63 pre-2025 provinces as 3-digit place-of-birth prefixes of the
  personal ID number, each with the code of its 2025 successor. Numbers already issued were not
  renumbered after the merger, so a PIN prefix must be decoded with this table, never with the
  current one: code ``15`` was Yên Bái and is now Lào Cai, ``24`` was Bắc Giang and is now
  Bắc Ninh, and so on.
* :data:`COUNTRY_CODES`: the prefixes 101-295 given to births registered abroad.

The data are plain Python literals, frozen with :class:`types.MappingProxyType`, so that the
tables are reviewable in a diff and cannot be changed at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from asxh_card.errors import IdentifierError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "BIRTH_PROVINCES",
    "CLOSED_PROVINCE_CODES",
    "COUNTRY_CODES",
    "CURRENT_PROVINCES",
    "BirthProvince",
    "Province",
    "current_province",
    "is_current_province_code",
]


@dataclass(frozen=True, slots=True)
class Province:
    """A provincial unit in force since 1 July 2025 (Decision 19/2025/QĐ-TTg)."""

    code: str
    """2-digit code, e.g. ``"01"``."""
    name: str
    """Official Vietnamese name (NFC), e.g. ``"Thành phố Hà Nội"``."""


@dataclass(frozen=True, slots=True)
class BirthProvince:
    """A pre-2025 province as it appears in the first 3 digits of a personal ID number."""

    prefix: str
    """3-digit CCCD prefix: ``"0"`` followed by the 2-digit code of Decision 124/2004/QĐ-TTg."""
    name: str
    """Name of the province before 1 July 2025 (NFC), e.g. ``"Yên Bái"``."""
    successor_code: str
    """Code of the current province (:data:`CURRENT_PROVINCES`) that absorbed it on 1 July 2025.

    For address normalisation only: it does not change how a PIN is decoded.
    """

    @property
    def successor(self) -> Province:
        """The current province this one belongs to since 1 July 2025."""
        return current_province(self.successor_code)


# The 34 provincial units from 1 July 2025. Source: Decision 19/2025/QĐ-TTg (list and codes of
# administrative units, applies from 1 Jul 2025) implementing Resolution 202/2025/QH15, as
# transcribed in reference/domain-vn.md §5.2 (Table B). A merged province takes the code of the
# province hosting the new People's Committee seat; the comment names the old units it absorbed.
CURRENT_PROVINCES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "01": "Thành phố Hà Nội",  # 01 Hà Nội
        "04": "Tỉnh Cao Bằng",  # 04 Cao Bằng
        "08": "Tỉnh Tuyên Quang",  # 02 Hà Giang, 08 Tuyên Quang
        "11": "Tỉnh Điện Biên",  # 11 Điện Biên
        "12": "Tỉnh Lai Châu",  # 12 Lai Châu
        "14": "Tỉnh Sơn La",  # 14 Sơn La
        "15": "Tỉnh Lào Cai",  # 10 Lào Cai, 15 Yên Bái
        "19": "Tỉnh Thái Nguyên",  # 06 Bắc Kạn, 19 Thái Nguyên
        "20": "Tỉnh Lạng Sơn",  # 20 Lạng Sơn
        "22": "Tỉnh Quảng Ninh",  # 22 Quảng Ninh
        "24": "Tỉnh Bắc Ninh",  # 24 Bắc Giang, 27 Bắc Ninh
        "25": "Tỉnh Phú Thọ",  # 17 Hòa Bình, 25 Phú Thọ, 26 Vĩnh Phúc
        "31": "Thành phố Hải Phòng",  # 30 Hải Dương, 31 Hải Phòng
        "33": "Tỉnh Hưng Yên",  # 33 Hưng Yên, 34 Thái Bình
        "37": "Tỉnh Ninh Bình",  # 35 Hà Nam, 36 Nam Định, 37 Ninh Bình
        "38": "Tỉnh Thanh Hóa",  # 38 Thanh Hóa
        "40": "Tỉnh Nghệ An",  # 40 Nghệ An
        "42": "Tỉnh Hà Tĩnh",  # 42 Hà Tĩnh
        "44": "Tỉnh Quảng Trị",  # 44 Quảng Bình, 45 Quảng Trị
        "46": "Thành phố Huế",  # 46 Huế
        "48": "Thành phố Đà Nẵng",  # 48 Đà Nẵng, 49 Quảng Nam
        "51": "Tỉnh Quảng Ngãi",  # 51 Quảng Ngãi, 62 Kon Tum
        "52": "Tỉnh Gia Lai",  # 52 Bình Định, 64 Gia Lai
        "56": "Tỉnh Khánh Hòa",  # 56 Khánh Hòa, 58 Ninh Thuận
        "66": "Tỉnh Đắk Lắk",  # 54 Phú Yên, 66 Đắk Lắk
        "68": "Tỉnh Lâm Đồng",  # 60 Bình Thuận, 67 Đắk Nông, 68 Lâm Đồng
        "75": "Tỉnh Đồng Nai",  # 70 Bình Phước, 75 Đồng Nai
        "79": "Thành phố Hồ Chí Minh",  # 74 Bình Dương, 77 Bà Rịa - Vũng Tàu, 79 Hồ Chí Minh
        "80": "Tỉnh Tây Ninh",  # 72 Tây Ninh, 80 Long An
        "82": "Tỉnh Đồng Tháp",  # 82 Tiền Giang, 87 Đồng Tháp
        "86": "Tỉnh Vĩnh Long",  # 83 Bến Tre, 84 Trà Vinh, 86 Vĩnh Long
        "91": "Tỉnh An Giang",  # 89 An Giang, 91 Kiên Giang
        "92": "Thành phố Cần Thơ",  # 92 Cần Thơ, 93 Hậu Giang, 94 Sóc Trăng
        "96": "Tỉnh Cà Mau",  # 95 Bạc Liêu, 96 Cà Mau
    }
)

# The 63 pre-2025 place-of-birth codes (CCCD prefix 001-096, with gaps). Source: Circular
# 07/2016/TT-BCA Appendix I (kept by Circular 59/2021/TT-BCA), the 2-digit codes being those of
# Decision 124/2004/QĐ-TTg; successor codes from Resolution 202/2025/QH15 / Decision 19/2025/QĐ-TTg
# (reference/domain-vn.md §1.4, Table A). 024 is Bắc Giang: one published copy misprints it 023.
BIRTH_PROVINCES: Final[Mapping[str, BirthProvince]] = MappingProxyType(
    {
        "001": BirthProvince("001", "Hà Nội", "01"),
        "002": BirthProvince("002", "Hà Giang", "08"),
        "004": BirthProvince("004", "Cao Bằng", "04"),
        "006": BirthProvince("006", "Bắc Kạn", "19"),
        "008": BirthProvince("008", "Tuyên Quang", "08"),
        "010": BirthProvince("010", "Lào Cai", "15"),
        "011": BirthProvince("011", "Điện Biên", "11"),
        "012": BirthProvince("012", "Lai Châu", "12"),
        "014": BirthProvince("014", "Sơn La", "14"),
        "015": BirthProvince("015", "Yên Bái", "15"),
        "017": BirthProvince("017", "Hòa Bình", "25"),
        "019": BirthProvince("019", "Thái Nguyên", "19"),
        "020": BirthProvince("020", "Lạng Sơn", "20"),
        "022": BirthProvince("022", "Quảng Ninh", "22"),
        "024": BirthProvince("024", "Bắc Giang", "24"),
        "025": BirthProvince("025", "Phú Thọ", "25"),
        "026": BirthProvince("026", "Vĩnh Phúc", "25"),
        "027": BirthProvince("027", "Bắc Ninh", "24"),
        "030": BirthProvince("030", "Hải Dương", "31"),
        "031": BirthProvince("031", "Hải Phòng", "31"),
        "033": BirthProvince("033", "Hưng Yên", "33"),
        "034": BirthProvince("034", "Thái Bình", "33"),
        "035": BirthProvince("035", "Hà Nam", "37"),
        "036": BirthProvince("036", "Nam Định", "37"),
        "037": BirthProvince("037", "Ninh Bình", "37"),
        "038": BirthProvince("038", "Thanh Hóa", "38"),
        "040": BirthProvince("040", "Nghệ An", "40"),
        "042": BirthProvince("042", "Hà Tĩnh", "42"),
        "044": BirthProvince("044", "Quảng Bình", "44"),
        "045": BirthProvince("045", "Quảng Trị", "44"),
        "046": BirthProvince("046", "Thừa Thiên Huế", "46"),  # Thành phố Huế since 2025
        "048": BirthProvince("048", "Đà Nẵng", "48"),
        "049": BirthProvince("049", "Quảng Nam", "48"),
        "051": BirthProvince("051", "Quảng Ngãi", "51"),
        "052": BirthProvince("052", "Bình Định", "52"),
        "054": BirthProvince("054", "Phú Yên", "66"),
        "056": BirthProvince("056", "Khánh Hòa", "56"),
        "058": BirthProvince("058", "Ninh Thuận", "56"),
        "060": BirthProvince("060", "Bình Thuận", "68"),
        "062": BirthProvince("062", "Kon Tum", "51"),
        "064": BirthProvince("064", "Gia Lai", "52"),
        "066": BirthProvince("066", "Đắk Lắk", "66"),
        "067": BirthProvince("067", "Đắk Nông", "68"),
        "068": BirthProvince("068", "Lâm Đồng", "68"),
        "070": BirthProvince("070", "Bình Phước", "75"),
        "072": BirthProvince("072", "Tây Ninh", "80"),
        "074": BirthProvince("074", "Bình Dương", "79"),
        "075": BirthProvince("075", "Đồng Nai", "75"),
        "077": BirthProvince("077", "Bà Rịa - Vũng Tàu", "79"),
        "079": BirthProvince("079", "Hồ Chí Minh", "79"),
        "080": BirthProvince("080", "Long An", "80"),
        "082": BirthProvince("082", "Tiền Giang", "82"),
        "083": BirthProvince("083", "Bến Tre", "86"),
        "084": BirthProvince("084", "Trà Vinh", "86"),
        "086": BirthProvince("086", "Vĩnh Long", "86"),
        "087": BirthProvince("087", "Đồng Tháp", "82"),
        "089": BirthProvince("089", "An Giang", "91"),
        "091": BirthProvince("091", "Kiên Giang", "91"),
        "092": BirthProvince("092", "Cần Thơ", "92"),
        "093": BirthProvince("093", "Hậu Giang", "92"),
        "094": BirthProvince("094", "Sóc Trăng", "92"),
        "095": BirthProvince("095", "Bạc Liêu", "96"),
        "096": BirthProvince("096", "Cà Mau", "96"),
    }
)

# Country codes for births registered abroad (prefixes 101-295), in Vietnamese alphabetical order
# of the country name. Source: Circular 07/2016/TT-BCA and Circular 59/2021/TT-BCA Appendix II, as
# transcribed in reference/domain-vn.md §1.5 (Table C, partly verified: two independent
# transcriptions agree). These are NOT ISO 3166 numeric codes. Azerbaijan (113, 114) and Croatia
# (147, 148) appear twice in the source list; both codes are kept because numbers were issued
# with either. Names are English renderings.
COUNTRY_CODES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "101": "Afghanistan",
        "102": "Egypt",
        "103": "Albania",
        "104": "Algeria",
        "105": "Andorra",
        "106": "Angola",
        "107": "United Kingdom",
        "108": "Antigua and Barbuda",
        "109": "Austria",
        "110": "Saudi Arabia",
        "111": "Argentina",
        "112": "Armenia",
        "113": "Azerbaijan",
        "114": "Republic of Azerbaijan",
        "115": "India",
        "116": "Bahamas",
        "117": "Bahrain",
        "118": "Poland",
        "119": "Bangladesh",
        "120": "Barbados",
        "121": "Belarus",
        "122": "Belize",
        "123": "Benin",
        "124": "Bhutan",
        "125": "Belgium",
        "126": "Bolivia",
        "127": "Bosnia and Herzegovina",
        "128": "Botswana",
        "129": "Portugal",
        "130": "Côte d'Ivoire",
        "131": "Brazil",
        "132": "Brunei",
        "133": "Bulgaria",
        "134": "Burkina Faso",
        "135": "Burundi",
        "136": "Cabo Verde",
        "137": "United Arab Emirates",
        "138": "Cameroon",
        "139": "Cambodia",
        "140": "Canada",
        "141": "Chile",
        "142": "Colombia",
        "143": "Comoros",
        "144": "Republic of the Congo",
        "145": "DR Congo",
        "146": "Costa Rica",
        "147": "Croatia",
        "148": "Republic of Croatia",
        "149": "Cuba",
        "150": "Djibouti",
        "151": "Dominica",
        "152": "Dominican Republic",
        "153": "Denmark",
        "154": "Timor-Leste",
        "155": "Germany",
        "156": "Ecuador",
        "157": "El Salvador",
        "158": "Eritrea",
        "159": "Estonia",
        "160": "Ethiopia",
        "161": "Fiji",
        "162": "Gabon",
        "163": "Gambia",
        "164": "Ghana",
        "165": "Grenada",
        "166": "Georgia",
        "167": "Guatemala",
        "168": "Guinea-Bissau",
        "169": "Equatorial Guinea",
        "170": "Guinea",
        "171": "Guyana",
        "172": "Haiti",
        "173": "Netherlands",
        "174": "South Korea",
        "175": "United States",
        "176": "Honduras",
        "177": "Hungary",
        "178": "Greece",
        "179": "Iceland",
        "180": "Indonesia",
        "181": "Iran",
        "182": "Iraq",
        "183": "Ireland",
        "184": "Israel",
        "185": "Jamaica",
        "186": "Jordan",
        "187": "Kazakhstan",
        "188": "Kenya",
        "189": "Kiribati",
        "190": "Kuwait",
        "191": "Cyprus",
        "192": "Kyrgyzstan",
        "193": "Laos",
        "194": "Latvia",
        "195": "Lesotho",
        "196": "Lebanon",
        "197": "Liberia",
        "198": "Libya",
        "199": "Liechtenstein",
        "200": "Lithuania",
        "201": "Luxembourg",
        "202": "North Macedonia",
        "203": "Madagascar",
        "204": "Malawi",
        "205": "Malaysia",
        "206": "Maldives",
        "207": "Mali",
        "208": "Malta",
        "209": "Morocco",
        "210": "Marshall Islands",
        "211": "Mauritania",
        "212": "Mauritius",
        "213": "Mexico",
        "214": "Micronesia",
        "215": "Moldova",
        "216": "Monaco",
        "217": "Mongolia",
        "218": "Montenegro",
        "219": "Mozambique",
        "220": "Myanmar",
        "221": "Namibia",
        "222": "South Sudan",
        "223": "South Africa",
        "224": "Nauru",
        "225": "Norway",
        "226": "Nepal",
        "227": "New Zealand",
        "228": "Nicaragua",
        "229": "Niger",
        "230": "Nigeria",
        "231": "Russia",
        "232": "Japan",
        "233": "Oman",
        "234": "Pakistan",
        "235": "Palau",
        "236": "Panama",
        "237": "Papua New Guinea",
        "238": "Paraguay",
        "239": "Peru",
        "240": "France",
        "241": "Finland",
        "242": "Philippines",
        "243": "Qatar",
        "244": "Romania",
        "245": "Rwanda",
        "246": "Saint Kitts and Nevis",
        "247": "Saint Lucia",
        "248": "Saint Vincent and the Grenadines",
        "249": "Samoa",
        "250": "San Marino",
        "251": "São Tomé and Príncipe",
        "252": "Czechia",
        "253": "Senegal",
        "254": "Serbia",
        "255": "Seychelles",
        "256": "Sierra Leone",
        "257": "Singapore",
        "258": "Slovakia",
        "259": "Slovenia",
        "260": "Solomon Islands",
        "261": "Somalia",
        "262": "Sri Lanka",
        "263": "Sudan",
        "264": "Suriname",
        "265": "Eswatini (Swaziland)",
        "266": "Syria",
        "267": "Tajikistan",
        "268": "Tanzania",
        "269": "Spain",
        "270": "Chad",
        "271": "Thailand",
        "272": "Türkiye",
        "273": "Sweden",
        "274": "Switzerland",
        "275": "Togo",
        "276": "Tonga",
        "277": "North Korea",
        "278": "Trinidad and Tobago",
        "279": "China",
        "280": "Central African Republic",
        "281": "Tunisia",
        "282": "Turkmenistan",
        "283": "Tuvalu",
        "284": "Australia",
        "285": "Uganda",
        "286": "Ukraine",
        "287": "Uruguay",
        "288": "Uzbekistan",
        "289": "Vanuatu",
        "290": "Vatican City / Holy See",
        "291": "Venezuela",
        "292": "Italy",
        "293": "Yemen",
        "294": "Zambia",
        "295": "Zimbabwe",
    }
)

# 2-digit codes of pre-2025 provinces that were absorbed on 1 July 2025. Decision 19/2025/QĐ-TTg
# says a code is never reused for another unit at the same level, so these stay closed.
CLOSED_PROVINCE_CODES: Final[frozenset[str]] = frozenset(
    p.prefix[1:] for p in BIRTH_PROVINCES.values() if p.prefix[1:] not in CURRENT_PROVINCES
)


def is_current_province_code(code: str) -> bool:
    """Whether ``code`` is the 2-digit code of one of the 34 current provincial units."""
    return code in CURRENT_PROVINCES


def current_province(code: str) -> Province:
    """Return the current provincial unit with 2-digit ``code``.

    Raises :class:`~asxh_card.errors.IdentifierError` for a code closed on 1 July 2025 (the
    message names the province that absorbed it) and for any other unknown code.
    """
    name = CURRENT_PROVINCES.get(code)
    if name is not None:
        return Province(code, name)
    if code in CLOSED_PROVINCE_CODES:
        old = BIRTH_PROVINCES["0" + code]
        new_name = CURRENT_PROVINCES[old.successor_code]
        raise IdentifierError(
            f"province code {code} ({old.name}) was closed on 1 July 2025; "
            f"it is now part of {old.successor_code} {new_name}",
            message_vi=(
                f"Mã tỉnh {code} ({old.name}) không còn dùng từ ngày 01/07/2025; tỉnh này nay "
                f"thuộc {old.successor_code} {new_name}."
            ),
        )
    if len(code) == 2 and code.isascii() and code.isdigit():
        raise IdentifierError(
            f"unknown province code {code}",
            message_vi=f"Mã tỉnh {code} không phải mã của một trong 34 tỉnh, thành phố hiện nay.",
        )
    raise IdentifierError(
        "a province code must be 2 ASCII digits", message_vi="Mã tỉnh phải gồm đúng 2 chữ số."
    )
