"""Translations of the CSV importer's texts: title, description, labels, help, choices, messages.

Keys are the English texts exactly as the worker declares them (messages are ``str.format``
templates, translated before their values are filled in).
"""

from __future__ import annotations

TRANSLATIONS: dict[str, dict[str, str]] = {
    "de": {
        "CSV import": "CSV-Import",
        "Check an uploaded CSV file row by row: download the rows that passed and a report of every error.": (
            "Eine hochgeladene CSV-Datei Zeile für Zeile prüfen: die gültigen Zeilen und einen Bericht über "
            "jeden Fehler herunterladen."
        ),
        "Required columns": "Pflichtspalten",
        "Comma-separated names the header must have and every row must fill, such as id, email.": (
            "Kommagetrennte Namen, die die Kopfzeile enthalten und jede Zeile ausfüllen muss, etwa id, email."
        ),
        "Column types": "Spaltentypen",
        "Comma-separated column:type pairs, such as age:int, born:date. "
        "Types: str, int, float, date (YYYY-MM-DD), email. Other columns are text.": (
            "Kommagetrennte Paare Spalte:Typ, etwa age:int, born:date. "
            "Typen: str, int, float, date (JJJJ-MM-TT), email. Andere Spalten sind Text."
        ),
        "Delimiter": "Trennzeichen",
        "Detect": "Erkennen",
        "Comma": "Komma",
        "Semicolon": "Semikolon",
        "Tab": "Tabulator",
        "Vertical bar": "Senkrechter Strich",
        "Largest upload (MB)": "Größter Upload (MB)",
        "Larger files than one request may carry are sent in chunks.": (
            "Dateien, die größer sind, als eine Anfrage tragen kann, werden in Teilen gesendet."
        ),
        "File extensions": "Dateiendungen",
        "Comma-separated, such as csv, txt.": "Kommagetrennt, etwa csv, txt.",
        "CSV file": "CSV-Datei",
        "Choose a file to upload it (a large one goes in pieces), or pick one uploaded before.": (
            "Eine Datei wählen, um sie hochzuladen (eine große in Teilen), oder eine früher hochgeladene auswählen."
        ),
        "Blank: the worker's setting.": "Leer: die Einstellung des Workers.",
        "{rows} rows: {valid} valid, {invalid} invalid": "{rows} Zeilen: {valid} gültig, {invalid} ungültig",
        "{invalid} invalid so far": "bisher {invalid} ungültig",
        "the file is empty: it needs a header line with the column names": (
            "die Datei ist leer: sie braucht eine Kopfzeile mit den Spaltennamen"
        ),
    },
    "fr": {
        "CSV import": "Import CSV",
        "Check an uploaded CSV file row by row: download the rows that passed and a report of every error.": (
            "Vérifier ligne par ligne un fichier CSV téléversé : télécharger les lignes valides et un rapport "
            "de chaque erreur."
        ),
        "Required columns": "Colonnes obligatoires",
        "Comma-separated names the header must have and every row must fill, such as id, email.": (
            "Noms séparés par des virgules que l’en-tête doit contenir et que chaque ligne doit remplir, "
            "par exemple id, email."
        ),
        "Column types": "Types de colonnes",
        "Comma-separated column:type pairs, such as age:int, born:date. "
        "Types: str, int, float, date (YYYY-MM-DD), email. Other columns are text.": (
            "Paires colonne:type séparées par des virgules, par exemple age:int, born:date. "
            "Types : str, int, float, date (AAAA-MM-JJ), email. Les autres colonnes sont du texte."
        ),
        "Delimiter": "Séparateur",
        "Detect": "Détecter",
        "Comma": "Virgule",
        "Semicolon": "Point-virgule",
        "Tab": "Tabulation",
        "Vertical bar": "Barre verticale",
        "Largest upload (MB)": "Téléversement maximal (Mo)",
        "Larger files than one request may carry are sent in chunks.": (
            "Les fichiers plus gros que ce qu’une requête peut porter sont envoyés par morceaux."
        ),
        "File extensions": "Extensions de fichier",
        "Comma-separated, such as csv, txt.": "Séparées par des virgules, par exemple csv, txt.",
        "CSV file": "Fichier CSV",
        "Choose a file to upload it (a large one goes in pieces), or pick one uploaded before.": (
            "Choisissez un fichier pour le téléverser (un gros fichier part en morceaux), "
            "ou prenez-en un déjà téléversé."
        ),
        "Blank: the worker's setting.": "Vide : le réglage du worker.",
        "{rows} rows: {valid} valid, {invalid} invalid": "{rows} lignes : {valid} valides, {invalid} invalides",
        "{invalid} invalid so far": "{invalid} invalides jusqu’ici",
        "the file is empty: it needs a header line with the column names": (
            "le fichier est vide : il faut une ligne d’en-tête avec les noms des colonnes"
        ),
    },
    "pl": {
        "CSV import": "Import CSV",
        "Check an uploaded CSV file row by row: download the rows that passed and a report of every error.": (
            "Sprawdź przesłany plik CSV wiersz po wierszu: pobierz wiersze, które przeszły, i raport każdego błędu."
        ),
        "Required columns": "Wymagane kolumny",
        "Comma-separated names the header must have and every row must fill, such as id, email.": (
            "Nazwy rozdzielone przecinkami, które nagłówek musi zawierać, a każdy wiersz wypełnić, np. id, email."
        ),
        "Column types": "Typy kolumn",
        "Comma-separated column:type pairs, such as age:int, born:date. "
        "Types: str, int, float, date (YYYY-MM-DD), email. Other columns are text.": (
            "Pary kolumna:typ rozdzielone przecinkami, np. age:int, born:date. "
            "Typy: str, int, float, date (RRRR-MM-DD), email. Pozostałe kolumny to tekst."
        ),
        "Delimiter": "Separator",
        "Detect": "Wykryj",
        "Comma": "Przecinek",
        "Semicolon": "Średnik",
        "Tab": "Tabulator",
        "Vertical bar": "Kreska pionowa",
        "Largest upload (MB)": "Największy plik (MB)",
        "Larger files than one request may carry are sent in chunks.": (
            "Pliki większe, niż zmieści jedno żądanie, są wysyłane w częściach."
        ),
        "File extensions": "Rozszerzenia plików",
        "Comma-separated, such as csv, txt.": "Rozdzielone przecinkami, np. csv, txt.",
        "CSV file": "Plik CSV",
        "Choose a file to upload it (a large one goes in pieces), or pick one uploaded before.": (
            "Wybierz plik, aby go przesłać (duży idzie w częściach), albo wskaż wcześniej przesłany."
        ),
        "Blank: the worker's setting.": "Puste: ustawienie workera.",
        "{rows} rows: {valid} valid, {invalid} invalid": "Wiersze: {rows}; poprawne: {valid}, błędne: {invalid}",
        "{invalid} invalid so far": "Błędne do tej pory: {invalid}",
        "the file is empty: it needs a header line with the column names": (
            "plik jest pusty: potrzebny jest wiersz nagłówka z nazwami kolumn"
        ),
    },
    "ru": {
        "CSV import": "Импорт CSV",
        "Check an uploaded CSV file row by row: download the rows that passed and a report of every error.": (
            "Проверить загруженный CSV-файл построчно: скачать строки, прошедшие проверку, и отчёт о каждой ошибке."
        ),
        "Required columns": "Обязательные столбцы",
        "Comma-separated names the header must have and every row must fill, such as id, email.": (
            "Имена через запятую, которые должны быть в заголовке и заполнены в каждой строке, например id, email."
        ),
        "Column types": "Типы столбцов",
        "Comma-separated column:type pairs, such as age:int, born:date. "
        "Types: str, int, float, date (YYYY-MM-DD), email. Other columns are text.": (
            "Пары столбец:тип через запятую, например age:int, born:date. "
            "Типы: str, int, float, date (ГГГГ-ММ-ДД), email. Остальные столбцы — текст."
        ),
        "Delimiter": "Разделитель",
        "Detect": "Определить",
        "Comma": "Запятая",
        "Semicolon": "Точка с запятой",
        "Tab": "Табуляция",
        "Vertical bar": "Вертикальная черта",
        "Largest upload (MB)": "Наибольший файл (МБ)",
        "Larger files than one request may carry are sent in chunks.": (
            "Файлы больше, чем вмещает один запрос, отправляются частями."
        ),
        "File extensions": "Расширения файлов",
        "Comma-separated, such as csv, txt.": "Через запятую, например csv, txt.",
        "CSV file": "CSV-файл",
        "Choose a file to upload it (a large one goes in pieces), or pick one uploaded before.": (
            "Выберите файл, чтобы загрузить его (большой уходит частями), или возьмите загруженный раньше."
        ),
        "Blank: the worker's setting.": "Пусто: настройка обработчика.",
        "{rows} rows: {valid} valid, {invalid} invalid": "Строк: {rows}; верных: {valid}, с ошибками: {invalid}",
        "{invalid} invalid so far": "С ошибками пока: {invalid}",
        "the file is empty: it needs a header line with the column names": (
            "файл пуст: нужна строка заголовка с именами столбцов"
        ),
    },
    "uk": {
        "CSV import": "Імпорт CSV",
        "Check an uploaded CSV file row by row: download the rows that passed and a report of every error.": (
            "Перевірити завантажений CSV-файл рядок за рядком: завантажити рядки, що пройшли перевірку, "
            "і звіт про кожну помилку."
        ),
        "Required columns": "Обов’язкові стовпці",
        "Comma-separated names the header must have and every row must fill, such as id, email.": (
            "Назви через кому, які має містити заголовок і заповнювати кожен рядок, наприклад id, email."
        ),
        "Column types": "Типи стовпців",
        "Comma-separated column:type pairs, such as age:int, born:date. "
        "Types: str, int, float, date (YYYY-MM-DD), email. Other columns are text.": (
            "Пари стовпець:тип через кому, наприклад age:int, born:date. "
            "Типи: str, int, float, date (РРРР-ММ-ДД), email. Інші стовпці — текст."
        ),
        "Delimiter": "Роздільник",
        "Detect": "Визначити",
        "Comma": "Кома",
        "Semicolon": "Крапка з комою",
        "Tab": "Табуляція",
        "Vertical bar": "Вертикальна риска",
        "Largest upload (MB)": "Найбільший файл (МБ)",
        "Larger files than one request may carry are sent in chunks.": (
            "Файли, більші за те, що вміщує один запит, надсилаються частинами."
        ),
        "File extensions": "Розширення файлів",
        "Comma-separated, such as csv, txt.": "Через кому, наприклад csv, txt.",
        "CSV file": "CSV-файл",
        "Choose a file to upload it (a large one goes in pieces), or pick one uploaded before.": (
            "Виберіть файл, щоб завантажити його (великий іде частинами), або візьміть завантажений раніше."
        ),
        "Blank: the worker's setting.": "Порожньо: налаштування обробника.",
        "{rows} rows: {valid} valid, {invalid} invalid": "Рядків: {rows}; правильних: {valid}, з помилками: {invalid}",
        "{invalid} invalid so far": "З помилками поки що: {invalid}",
        "the file is empty: it needs a header line with the column names": (
            "файл порожній: потрібен рядок заголовка з назвами стовпців"
        ),
    },
}
