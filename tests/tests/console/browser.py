"""Drives the web console in headless Chromium (Selenium + Debian's chromedriver) against a
running emulator with the real file-processor, writing a screenshot per step.

Usage: browser.py <endpoint-url> <artifacts-dir>. Exits non-zero (with the reason) when the
page does not show what the pipeline did."""
import os
import sys
import time
import urllib.request

import boto3
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

URL, ARTIFACTS = sys.argv[1], sys.argv[2]
SOURCE, ANALYTICS = "my-company-data-source", "my-company-analytics"
GOOD = "transaction_id,customer_id,amount,transaction_date\nt1,c1,10.50,2024-04-0{d}\nt2,c2,99.99,2024-04-0{d}\n"
BAD = "transaction_id,customer_id,amount,transaction_date\nt1,c1,ten,2024-04-09\n"
WAIT = 30

os.makedirs(ARTIFACTS, exist_ok=True)
s3 = boto3.client("s3", endpoint_url=URL, region_name="us-east-1",
                  aws_access_key_id="test", aws_secret_access_key="test")

options = webdriver.ChromeOptions()
for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1600,1400"):
    options.add_argument(arg)
if os.path.exists("/usr/bin/chromium"):
    options.binary_location = "/usr/bin/chromium"
service = webdriver.ChromeService(executable_path="/usr/bin/chromedriver") if os.path.exists("/usr/bin/chromedriver") else None
driver = webdriver.Chrome(options=options, service=service)
# The page re-renders its live table and panels: an element found may be replaced before it
# is used, so waits ignore stale references and clicks retry (see `click`).
wait = WebDriverWait(driver, WAIT, ignored_exceptions=(StaleElementReferenceException,))
step = 0


def shot(name):
    global step
    step += 1
    path = os.path.join(ARTIFACTS, f"console-{step:02d}-{name}.png")
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(path)
    print("screenshot", path)


def click(by, selector):
    """Clicks the element, finding it again if the page replaced it in between."""
    def attempt(d):
        try:
            d.find_element(by, selector).click()
            return True
        except StaleElementReferenceException:
            return False
    wait.until(attempt)


def text_of(by, selector):
    return wait.until(lambda d: d.find_element(by, selector).text)


def row_status(key, status):
    return wait.until(EC.presence_of_element_located(
        (By.CSS_SELECTOR, f'#files tbody tr[data-key="{key}"][data-status="{status}"]')))


try:
    driver.get(URL + "/_emulator/ui/")
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, '#conn[data-state="live"]')))
    shot("empty")

    # A missing output bucket: the file is dead-lettered with the reason, nothing is lost.
    s3.delete_bucket(Bucket=ANALYTICS)
    s3.put_object(Bucket=SOURCE, Key="sales_data_2024_04_01.csv", Body=GOOD.format(d=1).encode())
    s3.put_object(Bucket=SOURCE, Key="sales_data_2024_04_09.csv", Body=BAD.encode())
    row_status("sales_data_2024_04_01.csv", "dead_lettered")
    row_status("sales_data_2024_04_09.csv", "dead_lettered")

    # The bucket is back: new files flow through live.
    s3.create_bucket(Bucket=ANALYTICS)
    for d in (2, 3, 4, 5):
        s3.put_object(Bucket=SOURCE, Key=f"sales_data_2024_04_0{d}.csv", Body=GOOD.format(d=d).encode())
    for d in (2, 3, 4, 5):
        row_status(f"sales_data_2024_04_0{d}.csv", "processed")
    wait.until(lambda d: "Redrive all (2)" in d.find_element(By.ID, "redrive").text)
    shot("processed-and-dead-lettered")

    # A journey: the DLQ reason and each step.
    click(By.CSS_SELECTOR, '#files tbody tr[data-key="sales_data_2024_04_09.csv"]')
    reason = wait.until(EC.visibility_of_element_located((By.ID, "j-reason")))
    assert "amount" in reason.text, reason.text
    assert "past" not in reason.get_attribute("class"), "the reason is the current state"
    types = wait.until(lambda d: [s.get_attribute("data-type")
                                  for s in d.find_elements(By.CSS_SELECTOR, "#j-timeline li")])
    for expected in ("file.received", "file.queued", "file.processing", "file.dead_lettered"):
        assert expected in types, types
    shot("journey-dead-lettered")
    click(By.ID, "j-close")

    # Redrive the DLQ (StartMessageMoveTask): the file whose bucket was missing is processed now.
    click(By.ID, "redrive")
    row_status("sales_data_2024_04_01.csv", "processed")
    row_status("sales_data_2024_04_09.csv", "dead_lettered")
    click(By.CSS_SELECTOR, '#files tbody tr[data-key="sales_data_2024_04_01.csv"]')
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, '#j-timeline li[data-type="file.redriven"]')))
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, '#j-timeline li[data-type="file.processed"]')))
    assert "NoSuchBucket" in text_of(By.ID, "j-reason"), "the earlier reason is kept"
    assert text_of(By.ID, "j-status") == "processed"
    shot("journey-redriven-processed")
    click(By.ID, "j-close")

    # Athena over what arrived.
    sql = driver.find_element(By.ID, "sql")
    sql.clear()
    driver.execute_script("arguments[0].value = ''", sql)
    sql.send_keys("SELECT day, count(*) AS n, sum(CAST(amount AS decimal(10,2))) AS total FROM sales_data GROUP BY day ORDER BY day")
    click(By.ID, "run")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#results tbody tr")) == 5)
    metrics = urllib.request.urlopen(URL + "/metrics").read().decode()
    assert 'console_events_total{type="query.finished"} 1' in metrics, "the query's query.finished event"
    time.sleep(1.5)  # let the charts and panels catch up for the screenshot
    shot("overview-with-query")
    print("browser checks passed")
except Exception as error:  # noqa: BLE001 - report and keep the evidence
    shot("failure")
    print("page text:\n" + driver.find_element(By.TAG_NAME, "body").text[:3000], file=sys.stderr)
    print(f"browser check failed: {error!r}", file=sys.stderr)
    sys.exit(1)
finally:
    driver.quit()
