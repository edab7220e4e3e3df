#!/usr/bin/env python3
"""Drives the gateway's browser UI (GET /) in headless Chromium, as a user would.

  ui_check.py ingest URL SCREENSHOT   pick an enterprise identity, ingest a confidential chunk through the form
  ui_check.py ask URL SCREENSHOT      ask as every tier: the enterprise answer streams in token by token and
                                      cites the chunk; free and standard get the refusal

Run by Tests/ServiceTests/Gateway/BrowserUITests.swift (Debian's chromium and chromium-driver, Python selenium
from the project venv). Prints what it saw; exits 1 with the reason when the page does not behave.
"""
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

CHUNK_TEXT = "The salary bands of the engineering ladder are reviewed every March by the compensation committee."


def browser():
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(argument)
    options.binary_location = "/usr/bin/chromium"
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def fail(driver, screenshot, reason):
    driver.save_screenshot(screenshot)
    print(f"FAIL: {reason} (screenshot: {screenshot})")
    logs = driver.get_log("browser") if hasattr(driver, "get_log") else []
    for entry in logs:
        print("browser console:", entry.get("message"))
    sys.exit(1)


def choose_identity(driver, tier):
    user = driver.find_element(By.ID, "sub")
    user.clear()
    user.send_keys("uma")
    Select(driver.find_element(By.ID, "tenant")).select_by_visible_text("acme")
    Select(driver.find_element(By.ID, "tier")).select_by_visible_text(tier)
    driver.find_element(By.ID, "use-identity").click()
    WebDriverWait(driver, 20).until(lambda d: d.find_element(By.ID, "identity-status").text == f"uma @ acme ({tier})")


def ingest(driver, screenshot):
    choose_identity(driver, "enterprise")
    doc = driver.find_element(By.ID, "doc-id")
    doc.clear()
    doc.send_keys("salaries")
    Select(driver.find_element(By.ID, "visibility")).select_by_visible_text("confidential")
    text = driver.find_element(By.ID, "text")
    text.clear()
    text.send_keys(CHUNK_TEXT)
    driver.find_element(By.ID, "ingest").click()
    WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "ingest-result").text != "")
    result = driver.find_element(By.ID, "ingest-result").text
    if not result.startswith("202"):
        fail(driver, screenshot, f"POST /chunks from the form: {result!r}")
    print("ingested:", result.replace("\n", " "))
    driver.save_screenshot(screenshot)


def ask(driver, screenshot):
    choose_identity(driver, "enterprise")
    question = driver.find_element(By.ID, "question")
    question.clear()
    question.send_keys(CHUNK_TEXT)
    # Every state the enterprise answer goes through, with its time: it should grow token by token.
    driver.execute_script("""
      window.seen = [];
      const answer = document.querySelector("#tier-enterprise .answer");
      new MutationObserver(() => window.seen.push([performance.now(), answer.textContent]))
        .observe(answer, { childList: true, characterData: true, subtree: true });
    """)
    driver.find_element(By.ID, "ask-tiers").click()

    answer = driver.find_element(By.CSS_SELECTOR, "#tier-enterprise .answer")
    citations = driver.find_element(By.CSS_SELECTOR, "#tier-enterprise .citations")
    try:
        WebDriverWait(driver, 60).until(lambda d: citations.text != "")
    except Exception:
        fail(driver, screenshot, "no result in the enterprise column after 60 s")
    final = answer.text
    states = [(at, text) for at, text in driver.execute_script("return window.seen;") if text]
    partials = [(at, text) for at, text in states if text != final]
    print("enterprise answer:", final)
    print("enterprise citations:", citations.text.replace("\n", " | "))
    spread = (states[-1][0] - partials[0][0]) if partials else 0
    print(f"partial answers shown while streaming: {len(partials)}, over {spread:.0f} ms")
    if len(partials) < 2 or not all(final.startswith(text) for _, text in partials):
        fail(driver, screenshot, f"the answer did not stream in token by token: {states!r}")
    if "salaries" not in citations.text or "answered" not in citations.text:
        fail(driver, screenshot, f"the enterprise answer does not cite the confidential chunk: {citations.text!r}")

    for tier in ("free", "standard"):
        column_citations = driver.find_element(By.CSS_SELECTOR, f"#tier-{tier} .citations")
        WebDriverWait(driver, 60).until(lambda d: column_citations.text != "")
        column_answer = driver.find_element(By.CSS_SELECTOR, f"#tier-{tier} .answer")
        print(f"{tier} answer:", column_answer.text, "|", column_citations.text)
        if "refused" not in column_citations.text or "refused" not in column_answer.get_attribute("class"):
            fail(driver, screenshot, f"{tier} should get the refusal: {column_answer.text!r} {column_citations.text!r}")
        if "salaries" in column_citations.text or "March" in column_answer.text:
            fail(driver, screenshot, f"{tier} saw the confidential chunk")
    driver.save_screenshot(screenshot)
    print("screenshot:", screenshot)


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("ingest", "ask"):
        print(__doc__)
        sys.exit(2)
    step, url, screenshot = sys.argv[1:]
    driver = browser()
    try:
        driver.get(url)
        WebDriverWait(driver, 20).until(lambda d: d.find_element(By.ID, "identity-status").text != "")
        {"ingest": ingest, "ask": ask}[step](driver, screenshot)
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
